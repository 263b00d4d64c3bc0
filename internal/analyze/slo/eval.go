package slo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// Querier is the part of query.Querier the evaluation reads through.
type Querier interface {
	Query(ctx context.Context, q string, t time.Time) (query.Result, error)
}

// WindowBurn is the error ratio and burn rate of one window.
type WindowBurn struct {
	Window time.Duration `json:"window"`
	// Requests is requests per second over the window.
	Requests float64 `json:"requests_per_second"`
	// ErrorRatio is the fraction of requests slower than the threshold.
	ErrorRatio float64 `json:"error_ratio"`
	// Burn is ErrorRatio / budget: 1 spends the budget exactly over the
	// objective's window.
	Burn float64 `json:"burn_rate"`
}

// Status is one objective for one model at one time.
type Status struct {
	Objective Objective `json:"objective"`
	Cluster   string    `json:"cluster,omitempty"`
	Model     string    `json:"model"`
	// Requests is requests per second over the last hour (0 when none).
	Requests float64 `json:"requests_per_second"`
	// ErrorRatio is the fraction of slow requests over the objective's
	// window (as much of it as the data covers).
	ErrorRatio float64 `json:"error_ratio"`
	// BudgetRemaining is 1 - ErrorRatio / budget: 1 untouched, 0 spent,
	// negative overspent.
	BudgetRemaining float64 `json:"budget_remaining"`
	// Windows are the burn-rate windows with requests (5m, 30m, 1h, 6h,
	// 3d); a window without requests is not reported.
	Windows []WindowBurn `json:"windows"`
	// Firing are the burn-rate alerts whose condition holds: both windows
	// above the factor and the requests over GateWindow at or above the
	// minimum rate.
	Firing []Burn `json:"firing,omitempty"`
}

// Burn returns the burn rate over w and whether it was reported.
func (s Status) Burn(w time.Duration) (float64, bool) {
	for _, b := range s.Windows {
		if b.Window == w {
			return b.Burn, true
		}
	}
	return math.NaN(), false
}

// Page is the most urgent firing alert's severity, "" when none fires.
func (s Status) Page() string {
	sev := ""
	for _, b := range s.Firing {
		if b.Severity == "page" {
			return "page"
		}
		sev = b.Severity
	}
	return sev
}

// Evaluate computes every objective's status per model at `at`, from the
// engines' raw histograms through q: the one computation of error budget
// remaining and burn rates (the dashboard, diagnose and the report read
// it; the recording rules compute the same ratios for alerting). Models
// without requests over the objective's window are not reported.
func Evaluate(ctx context.Context, q Querier, cat *schema.Catalog, s Set, at time.Time) ([]Status, error) {
	others := s.others()
	var out []Status
	for _, o := range s.Objectives {
		type key struct{ cluster, model string }
		type pair struct{ req, errs float64 }
		wins := append(slices.Clone(RawWindows), LongWindow)
		if !slices.Contains(wins, o.Window) {
			wins = append(wins, o.Window)
		}
		vals := map[time.Duration]map[key]*pair{}
		for _, w := range wins {
			vals[w] = map[key]*pair{}
			for _, k := range []Kind{Requests, Errors} {
				e, err := Expr(cat, o, others[o.Indicator], k, w)
				if err != nil {
					return nil, err
				}
				res, err := q.Query(ctx, e.String(), at)
				if err != nil {
					return nil, fmt.Errorf("objective %s over %s: %w", o.Name, window(w), err)
				}
				vec, _ := res.Value.(model.Vector)
				for _, smp := range vec {
					kk := key{string(smp.Metric[model.LabelName(cat.ClusterLabel())]), string(smp.Metric[ModelLabel])}
					p := vals[w][kk]
					if p == nil {
						p = &pair{req: math.NaN(), errs: math.NaN()}
						vals[w][kk] = p
					}
					if k == Requests {
						p.req = float64(smp.Value)
					} else {
						p.errs = float64(smp.Value)
					}
				}
			}
		}
		for kk, p := range vals[o.Window] {
			if !(p.req > 0) || math.IsNaN(p.errs) {
				continue
			}
			st := Status{Objective: o, Cluster: kk.cluster, Model: kk.model, ErrorRatio: clamp01(p.errs / p.req)}
			st.BudgetRemaining = 1 - st.ErrorRatio/o.Budget()
			for _, w := range append(slices.Clone(RawWindows), LongWindow) {
				if wp := vals[w][kk]; wp != nil && wp.req > 0 && !math.IsNaN(wp.errs) {
					r := clamp01(wp.errs / wp.req)
					st.Windows = append(st.Windows, WindowBurn{Window: w, Requests: wp.req, ErrorRatio: r, Burn: r / o.Budget()})
				}
			}
			st.Requests = st.requests(GateWindow)
			for _, b := range Burns {
				long, okL := st.Burn(b.Long)
				short, okS := st.Burn(b.Short)
				if okL && okS && long > b.Factor && short > b.Factor && st.requests(GateWindow) >= s.MinRequestRate {
					st.Firing = append(st.Firing, b)
				}
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b Status) int {
		return strings.Compare(a.Objective.Name+"\xff"+a.Cluster+"\xff"+a.Model, b.Objective.Name+"\xff"+b.Cluster+"\xff"+b.Model)
	})
	return out, nil
}

func (s Status) requests(w time.Duration) float64 {
	for _, b := range s.Windows {
		if b.Window == w {
			return b.Requests
		}
	}
	return 0
}

// clamp01 keeps a ratio of two extrapolated rates within [0, 1].
func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

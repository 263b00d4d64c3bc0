// Package slo owns the latency objectives (SLOs): which engine histogram
// each indicator reads and whether a threshold is one of its bucket
// boundaries, the recording rules of error ratios over the burn-rate
// windows, the multi-window, multi-burn-rate alerts of the Google SRE
// workbook gated on a minimum request rate, and the one computation of
// error budget remaining and burn rate that the dashboard, diagnose and the
// report read.
//
// Every query is PromQL text over placeholders, parsed and substituted as a
// syntax tree (no query text is formatted), reading classic (_bucket{le})
// and native (histogram_fraction) histograms alike.
package slo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	smodel "github.com/servescope/servescope/internal/model"
	"github.com/servescope/servescope/internal/schema"
)

// IndicatorSignals maps each indicator to the catalog's histogram signal.
var IndicatorSignals = map[string]string{
	"ttft": "ttft_seconds",
	"itl":  "inter_token_latency_seconds",
	"tpot": "tpot_seconds",
	"e2e":  "e2e_latency_seconds",
}

// AllModels is the Model of an objective declared for every model.
const AllModels = "*"

// ModelLabel is the engine label naming the served model.
const ModelLabel = "model_name"

// Objective is one latency objective: Target of the requests of Model
// have Indicator ≤ Threshold over Window (fields documented on
// model.Objective, their one definition; the config's objectives convert
// as slo.Objective(co.Objective)). Name labels its series and alerts (the
// slo label); Model is a model_name or AllModels.
type Objective smodel.Objective

// Budget is the fraction of requests allowed to be slow: 1 - Target.
// It is rounded to 12 significant digits, so 99% gives 0.01, not
// 0.010000000000000009.
func (o Objective) Budget() float64 {
	b, _ := strconv.ParseFloat(strconv.FormatFloat(1-o.Target, 'g', 12, 64), 64)
	return b
}

// String says the objective in words: "99% of Llama requests with TTFT ≤ 500ms over 28d".
func (o Objective) String() string {
	who := "requests of " + o.Model
	if o.Model == AllModels {
		who = "requests of each model"
	}
	return fmt.Sprintf("%s%% of %s with %s ≤ %s over %s", strconv.FormatFloat(o.Target*100, 'f', -1, 64), who,
		strings.ToUpper(o.Indicator), model.Duration(o.Threshold), model.Duration(o.Window))
}

// Set is the objectives in force and the alerts' minimum request rate.
type Set struct {
	Objectives []Objective
	// MinRequestRate is the requests per second over GateWindow below
	// which a model's burn-rate alerts do not fire.
	MinRequestRate float64
}

// Check refuses an objective whose indicator is unknown, whose engine no
// source of the indicator has, or whose threshold is not a bucket boundary
// of a source's known layout, naming the nearest boundaries.
func Check(cat *schema.Catalog, o Objective) error {
	srcs, err := sources(cat, o)
	if err != nil {
		return err
	}
	le := o.Threshold.Seconds()
	var errs []error
	for _, s := range srcs {
		if s.Buckets == nil || slices.Contains(s.Buckets, le) {
			continue
		}
		lo, hi := nearest(s.Buckets, le)
		errs = append(errs, fmt.Errorf("threshold %s is not a bucket boundary of %s (%s) %s: nearest %s; objectives are read from the buckets exactly%s",
			model.Duration(o.Threshold), s.Exporter, s.Versions, s.Name, strings.Join(lo, " and "), hi))
	}
	return errors.Join(errs...)
}

// nearest names the boundaries either side of v, and a hint to limit the
// objective to one engine.
func nearest(bs []float64, v float64) ([]string, string) {
	i, _ := slices.BinarySearch(bs, v)
	var out []string
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(bs) {
			out = append(out, model.Duration(time.Duration(bs[j]*float64(time.Second))).String())
		}
	}
	return out, " (or set engine: to the engine whose layout has it)"
}

// sources returns the histogram sources an objective reads.
func sources(cat *schema.Catalog, o Objective) ([]schema.HistogramSource, error) {
	sig, ok := IndicatorSignals[o.Indicator]
	if !ok {
		return nil, fmt.Errorf("indicator %q: want one of ttft, itl, tpot, e2e", o.Indicator)
	}
	if !(o.Target > 0 && o.Target < 1) || math.IsNaN(o.Target) {
		return nil, fmt.Errorf("objective %s: target %v: want a fraction in (0, 1)", o.Name, o.Target)
	}
	all, err := cat.HistogramSources(sig)
	if err != nil {
		return nil, fmt.Errorf("objective %s: %w", o.Name, err)
	}
	if o.Engine == "" {
		return all, nil
	}
	var out []schema.HistogramSource
	for _, s := range all {
		if s.Exporter == o.Engine {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		var names []string
		for _, s := range all {
			if !slices.Contains(names, s.Exporter) {
				names = append(names, s.Exporter)
			}
		}
		return nil, fmt.Errorf("engine %q: %s is read from %s only", o.Engine, o.Indicator, strings.Join(names, ", "))
	}
	return out, nil
}

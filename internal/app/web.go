package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
)

// webOptions are what the dashboard reads and how.
type webOptions struct {
	Querier query.Querier
	Catalog *schema.Catalog
	// Thresholds drive the findings and mark the GPU quadrant.
	Thresholds diagnose.Thresholds
	// Calc attributes cost; nil makes the cost panels say "not available"
	// (NewCostCalculator builds one).
	Calc *cost.Calculator
	// Recorded reads the catalog's recorded series (servescope:*) instead
	// of the full queries over raw series: true where the backend
	// evaluates the catalog's rules, as the embedded rule manager and the
	// backfill do.
	Recorded bool
	// Objectives are the latency objectives of the dashboard's panel.
	Objectives slo.Set
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Pages, when set, counts each dashboard request while it is served
	// (the rule manager waits for them, rules.Options.Yield).
	Pages *query.Foreground
}

// sloSource evaluates the latency objectives through a Querier for the
// dashboard (slo.Evaluate, as diagnose does).
type sloSource struct {
	q   query.Querier
	cat *schema.Catalog
	set slo.Set
}

// Objectives implements web.Objectives.
func (s sloSource) Objectives(ctx context.Context, at time.Time) ([]slo.Status, error) {
	return slo.Evaluate(ctx, s.q, s.cat, s.set, at)
}

// errNoFleet: the fleet model is not wired in (no cost calculator).
var errNoFleet = errors.New("no fleet model")

// maxClusterViews bounds the per-cluster views kept between pages (a URL
// may name any cluster); past it a view is built per page.
const maxClusterViews = 64

// clusterViews returns the dashboard's cluster= selection: the options of
// all with every source reading one cluster's series through a scoped
// Querier, each cluster's fleet view kept so its one evaluation per
// (time, window) serves all its panels and pages.
func clusterViews(all web.Options, o webOptions, logger *slog.Logger) func(string) (web.Options, error) {
	var mu sync.Mutex
	views := map[string]*fleetView{}
	return func(name string) (web.Options, error) {
		q := cluster.Scope(o.Querier, o.Catalog.ClusterLabel(), name)
		mu.Lock()
		fv := views[name]
		mu.Unlock()
		if fv == nil {
			var err error
			if fv, err = newFleetView(q, o.Catalog, o.Calc, o.Thresholds, o.Recorded, logger); err != nil {
				return web.Options{}, err
			}
			if o.Now != nil {
				fv.clock = o.Now
			}
			mu.Lock()
			if len(views) < maxClusterViews {
				views[name] = fv
			}
			mu.Unlock()
		}
		out := all
		out.Querier, out.Findings, out.Queues, out.Live, out.ForCluster = q, fv, fv, fv, nil
		if out.Objectives != nil {
			out.Objectives = sloSource{q: q, cat: o.Catalog, set: o.Objectives}
		}
		if o.Calc != nil {
			out.Costs, out.Fleet = fv, fv
		}
		return out, nil
	}
}

// mountWeb serves the dashboard at / on the API's mux, with the findings
// of the diagnosis, the fleet model and the cost panels, all from one
// evaluation per page (fleetView).
func mountWeb(a *api.API, o webOptions) error {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	th := o.Thresholds
	fv, err := newFleetView(o.Querier, o.Catalog, o.Calc, th, o.Recorded, logger)
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	if o.Now != nil {
		fv.clock = o.Now
	}
	opts := web.Options{Now: o.Now,
		Querier: o.Querier, Catalog: o.Catalog, Recorded: o.Recorded, Logger: logger, Findings: fv, Queues: fv, Live: fv,
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
	}
	if o.Calc != nil {
		opts.Costs, opts.Fleet = fv, fv
	}
	if len(o.Objectives.Objectives) > 0 {
		opts.Objectives = sloSource{q: o.Querier, cat: o.Catalog, set: o.Objectives}
	}
	opts.ClusterLabel = o.Catalog.ClusterLabel()
	opts.ForCluster = clusterViews(opts, o, logger)
	h, err := web.New(opts)
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	if o.Pages != nil {
		a.Handle("/", foreground(o.Pages, h))
		return nil
	}
	a.Handle("/", h)
	return nil
}

// foreground counts each request to next in fg while it is served.
func foreground(fg *query.Foreground, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer fg.Begin()()
		next.ServeHTTP(w, r)
	})
}

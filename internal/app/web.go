package app

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
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
	Logger   *slog.Logger
}

// errNoFleet: the fleet model is not wired in (no cost calculator).
var errNoFleet = errors.New("no fleet model")

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
	opts := web.Options{
		Querier: o.Querier, Catalog: o.Catalog, Recorded: o.Recorded, Logger: logger, Findings: fv,
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
	}
	if o.Calc != nil {
		opts.Costs, opts.Fleet = fv, fv
	}
	h, err := web.New(opts)
	if err != nil {
		return fmt.Errorf("mount dashboard: %w", err)
	}
	a.Handle("/", h)
	return nil
}

package api

import (
	"net/http"

	"github.com/servescope/servescope/internal/analyze/fleet"
)

// Fleet returns the handler of /api/v1/fleet: the fleet model (physical
// GPUs, GPU-equivalents, allocatable, reserved, allocated, used, idle and
// unused GPU-hours and their money, the serving totals) over the window
// ending at time (default now), since long (default 1h), in the API's
// envelope. Register it with Handle("/api/v1/fleet", a.Fleet(fc)).
func (a *API) Fleet(fc *fleet.Calculator) http.Handler {
	return a.wrap(func(r *http.Request) (any, []string, []string, error) {
		at, window, err := a.windowParams(r)
		if err != nil {
			return nil, nil, nil, err
		}
		ctx, cancel, err := withTimeout(r)
		if err != nil {
			return nil, nil, nil, err
		}
		defer cancel()
		m, err := fc.Compute(ctx, a.opts.Querier, at.Add(-window), at, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		return m, m.Warnings, nil, nil
	})
}

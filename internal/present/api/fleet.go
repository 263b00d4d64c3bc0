package api

import (
	"net/http"

	"github.com/servescope/servescope/internal/analyze/fleet"
)

// Fleet returns the handler of /api/v1/fleet: the fleet model (physical
// GPUs, GPU-equivalents, allocatable, reserved, allocated, used, idle and
// unused GPU-hours and their money, the serving totals) over the window
// ending at time (default now), since long (default 1h), of one cluster
// (parameter cluster, default every one), in the API's envelope; with
// aggregate=cluster, the fleet of every cluster ({"total", "clusters"}). Register it with Handle("/api/v1/fleet", a.Fleet(fc)).
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
		m, err := fc.ComputeCluster(ctx, a.opts.Querier, r.FormValue("cluster"), at.Add(-window), at, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		switch agg := r.FormValue("aggregate"); agg {
		case "":
		case "cluster":
			per, err := fc.PerCluster(ctx, a.opts.Querier, at.Add(-window), at, 0)
			if err != nil {
				return nil, nil, nil, err
			}
			return struct {
				Total    *fleet.Model   `json:"total"`
				Clusters []*fleet.Model `json:"clusters"`
			}{m, per}, m.Warnings, nil, nil
		default:
			return nil, nil, nil, badData("invalid parameter \"aggregate\": %q: want cluster", agg)
		}
		return m, m.Warnings, nil, nil
	})
}

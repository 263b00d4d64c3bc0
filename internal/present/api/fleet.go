package api

import (
	"context"
	"net/http"
	"time"

	"github.com/servescope/servescope/internal/analyze/fleet"
)

// Fleet returns the handler of /api/v1/fleet: the fleet model (physical
// GPUs, GPU-equivalents, allocatable, reserved, allocated, used, idle and
// unused GPU-hours and their money, the serving totals) over the window
// ending at time (default now), since long (default 1h), of one cluster
// (parameter cluster, default every one), in the API's envelope; with
// aggregate=cluster, the fleet of every cluster ({"total", "clusters"}). Register it with Handle("/api/v1/fleet", a.Fleet(fc)).
func (a *API) Fleet(fc *fleet.Calculator) http.Handler {
	return a.windowed(func(ctx context.Context, r *http.Request, at time.Time, window time.Duration) (any, []string, error) {
		m, err := fc.ComputeCluster(ctx, a.opts.Querier, r.FormValue("cluster"), at.Add(-window), at, 0)
		if err != nil {
			return nil, nil, err
		}
		switch agg := r.FormValue("aggregate"); agg {
		case "":
		case "cluster":
			per, err := fc.PerCluster(ctx, a.opts.Querier, at.Add(-window), at, 0)
			if err != nil {
				return nil, nil, err
			}
			return struct {
				Total    *fleet.Model   `json:"total"`
				Clusters []*fleet.Model `json:"clusters"`
			}{m, per}, m.Warnings, nil
		default:
			return nil, nil, badData("invalid parameter \"aggregate\": %q: want cluster", agg)
		}
		return m, m.Warnings, nil
	})
}

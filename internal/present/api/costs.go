package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// Costs returns the /api/v1/costs handler, shaped after OpenCost's
// /allocation: GPU-hours and cost per team (or namespace, queue, model)
// over a window, read through the API's Querier.
//
// Parameters:
//   - window: 1h, 24h (default), 7d, 30d, today, yesterday, or START,END in RFC 3339;
//   - aggregate: team (default), namespace, queue or model;
//   - shareIdle: true spreads idle GPU-hours over the allocations (default false);
//   - step: cut the window into sets of this length (24h or 1d: one set per day);
//   - resolution: the evaluation step (default window/1440 within [1m, 1h]).
//
// A window without any GPU data answers 200 with an empty set whose warning
// says so; a request the calculator refuses (a window shorter than one
// evaluation step) is 400 bad_data.
//
// Register it with a.Handle("/api/v1/costs", a.Costs(calc)).
func (a *API) Costs(calc *cost.Calculator) http.Handler {
	return a.wrap(func(r *http.Request) (any, []string, []string, error) {
		req, err := costRequest(r, a.opts.Now())
		if err != nil {
			return nil, nil, nil, err
		}
		ctx, cancel, err := withTimeout(r)
		if err != nil {
			return nil, nil, nil, err
		}
		defer cancel()
		rep, err := calc.Compute(ctx, a.opts.Querier, req)
		if err != nil {
			return nil, nil, nil, err
		}
		return rep, nil, nil, nil
	})
}

// costRequest reads the request parameters; now resolves relative windows.
func costRequest(r *http.Request, now time.Time) (cost.Request, error) {
	win := r.FormValue("window")
	if win == "" {
		win = "24h"
	}
	start, end, err := cost.ParseWindow(win, now)
	if err != nil {
		return cost.Request{}, badData("invalid parameter \"window\": %v", err)
	}
	by, err := cost.ParseAggregate(r.FormValue("aggregate"))
	if err != nil {
		return cost.Request{}, badData("invalid parameter \"aggregate\": %v", err)
	}
	req := cost.Request{Start: start, End: end, By: by, Cluster: r.FormValue("cluster")}
	if s := r.FormValue("shareIdle"); s != "" {
		if req.ShareIdle, err = strconv.ParseBool(s); err != nil {
			return cost.Request{}, badData("invalid parameter \"shareIdle\": %v", err)
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"step", &req.Split}, {"resolution", &req.Step}} {
		if s := r.FormValue(p.name); s != "" {
			d, err := parseDuration(s)
			if err != nil || d <= 0 {
				return cost.Request{}, badData("invalid parameter %q: want a positive duration such as 1d", p.name)
			}
			*p.dst = d
		}
	}
	return req, nil
}

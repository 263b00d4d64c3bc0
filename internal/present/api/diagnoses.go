package api

import (
	"context"
	"net/http"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// Diagnoser is what /api/v1/diagnoses reads: a diagnosis report of one
// cluster ("" every one) at a time over a window (diagnose.Diagnoser
// satisfies it).
type Diagnoser interface {
	DiagnoseCluster(ctx context.Context, cluster string, at time.Time, window time.Duration) (*diagnose.Report, error)
}

// DefaultDiagnosisWindow is the window of /api/v1/diagnoses without since.
const DefaultDiagnosisWindow = time.Hour

// Diagnoses returns the handler of /api/v1/diagnoses: parameters time
// (default now), since (the window, default 1h), cluster (one cluster,
// default every one) and timeout, answered in
// the API's envelope with a diagnose.Report as data. Register it with
// Handle("/api/v1/diagnoses", a.Diagnoses(d)).
func (a *API) Diagnoses(d Diagnoser) http.Handler {
	return a.windowed(func(ctx context.Context, r *http.Request, at time.Time, window time.Duration) (any, []string, error) {
		rep, err := d.DiagnoseCluster(ctx, r.FormValue("cluster"), at, window)
		if err != nil {
			return nil, nil, err
		}
		return rep, nil, nil
	})
}

// windowed is the handler of an endpoint over a window (/api/v1/diagnoses,
// /api/v1/queues, /api/v1/fleet): it reads time, since (windowParams) and
// timeout, and answers what f returns for the window ending at at, with
// its warnings, under the request's timeout.
func (a *API) windowed(f func(ctx context.Context, r *http.Request, at time.Time, window time.Duration) (any, []string, error)) http.Handler {
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
		data, warnings, err := f(ctx, r, at, window)
		if err != nil {
			return nil, nil, nil, err
		}
		return data, warnings, nil, nil
	})
}

// windowParams reads the parameters time (default now) and since (the
// window ending at time, default DefaultDiagnosisWindow).
func (a *API) windowParams(r *http.Request) (time.Time, time.Duration, error) {
	at, err := parseTime(r.FormValue("time"), a.opts.Now())
	if err != nil {
		return time.Time{}, 0, badData("invalid parameter \"time\": %v", err)
	}
	window := DefaultDiagnosisWindow
	if s := r.FormValue("since"); s != "" {
		if window, err = parseDuration(s); err != nil || window <= 0 {
			return time.Time{}, 0, badData("invalid parameter \"since\": want a positive duration, got %q", s)
		}
	}
	return at, window, nil
}

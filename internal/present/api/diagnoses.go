package api

import (
	"context"
	"net/http"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
)

// Diagnoser is what /api/v1/diagnoses reads: a diagnosis report at a time
// over a window (diagnose.Diagnoser satisfies it).
type Diagnoser interface {
	Diagnose(ctx context.Context, at time.Time, window time.Duration) (*diagnose.Report, error)
}

// DefaultDiagnosisWindow is the window of /api/v1/diagnoses without since.
const DefaultDiagnosisWindow = time.Hour

// Diagnoses returns the handler of /api/v1/diagnoses: parameters time
// (default now), since (the window, default 1h) and timeout, answered in
// the API's envelope with a diagnose.Report as data. Register it with
// Handle("/api/v1/diagnoses", a.Diagnoses(d)).
func (a *API) Diagnoses(d Diagnoser) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			a.write(w, http.StatusMethodNotAllowed, response{Status: "error", ErrorType: string(query.ErrBadData), Error: "method not allowed"})
			return
		}
		if err := r.ParseForm(); err != nil {
			a.fail(w, badData("error parsing form values: %v", err))
			return
		}
		at, err := parseTime(r.FormValue("time"), a.opts.Now())
		if err != nil {
			a.fail(w, badData("invalid parameter \"time\": %v", err))
			return
		}
		window := DefaultDiagnosisWindow
		if s := r.FormValue("since"); s != "" {
			if window, err = parseDuration(s); err != nil || window <= 0 {
				a.fail(w, badData("invalid parameter \"since\": want a positive duration, got %q", s))
				return
			}
		}
		ctx, cancel, err := withTimeout(r)
		if err != nil {
			a.fail(w, err)
			return
		}
		defer cancel()
		rep, err := d.Diagnose(ctx, at, window)
		if err != nil {
			a.fail(w, err)
			return
		}
		a.write(w, http.StatusOK, response{Status: "success", Data: rep})
	})
}

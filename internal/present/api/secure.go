package api

import (
	"net/http"
	"slices"
)

// SecurityHeaders sets the headers every response carries: no MIME
// sniffing, no framing, and a Content-Security-Policy that allows nothing
// (JSON and text need nothing; the dashboard's HTML handler sets its own
// policy over this one).
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// Starting is the handler while the store opens: /-/healthy answers 200
// (the process is alive, a liveness probe must not restart it during a
// long WAL replay), /-/ready and everything else 503.
func Starting() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/-/healthy", healthy)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("servescope is starting: opening the store (WAL replay).\n")) // a failed write to the client has nowhere to go
	})
	return mux
}

func healthy(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("servescope is Healthy.\n")) // a failed write to the client has nowhere to go
}

// Routes are the patterns registered on the API's mux, sorted: every
// endpoint servescope serves (tests check each for auth and headers).
func (a *API) Routes() []string {
	a.routesMu.Lock()
	defer a.routesMu.Unlock()
	return slices.Sorted(slices.Values(a.routes))
}

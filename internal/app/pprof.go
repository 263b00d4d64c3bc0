package app

import (
	"net/http"
	"net/http/pprof"

	"github.com/servescope/servescope/internal/present/api"
)

// handlePprof serves Go's runtime profiles under /debug/pprof/ on the API's
// listener (behind its TLS and basic auth), as Prometheus serves them, for
// `go tool pprof http://ADDRESS/debug/pprof/profile?seconds=60`.
func handlePprof(a *api.API) {
	a.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
	a.Handle("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	a.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	a.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	a.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}

package api

import (
	"errors"
	"net/http"

	"github.com/servescope/servescope/internal/analyze/query"
)

// Unavailable answers every request with Prometheus's error envelope
// (422, errorType "execution") and msg, as Prometheus Agent answers its
// query endpoints: for the endpoints a mode (servescope's agent mode) does
// not serve.
func (a *API) Unavailable(msg string) http.Handler {
	return a.wrap(func(*http.Request) (any, []string, []string, error) {
		return nil, nil, nil, &query.Error{Type: query.ErrExec, Err: errors.New(msg)}
	})
}

// agentRefused are the endpoints of this API that Prometheus Agent refuses
// (its web/api/v1 wrapAgent): every query, the series and label lookups,
// the query parser's, the head's statistics, rules and alerts.
var agentRefused = []string{
	"/api/v1/query", "/api/v1/query_range", string(query.EndpointExemplars),
	"/api/v1/format_query", "/api/v1/parse_query",
	"/api/v1/labels", "/api/v1/label/{name}/values", "/api/v1/series",
	string(query.EndpointTSDB), string(query.EndpointRules), string(query.EndpointAlerts),
}

// Agent makes a the API of an agent (`serve --agent`), as Prometheus
// Agent's: the agentRefused endpoints answer Unavailable(msg) before
// reading any parameter (a query_range without start is refused, not
// bad_data), and so does every other path under /api/v1/ a does not serve;
// health, readiness, /metrics, targets, metadata, buildinfo, config,
// flags and runtimeinfo are served as usual. Other methods than GET and
// POST still answer 405. Call it once, after New.
func (a *API) Agent(msg string) {
	refuse := a.Unavailable(msg)
	for _, p := range agentRefused {
		// More specific than the method-less pattern New registered, so
		// these win for GET (and HEAD) and POST.
		a.Handle(http.MethodGet+" "+p, refuse)
		a.Handle(http.MethodPost+" "+p, refuse)
	}
	a.Handle("/api/v1/", refuse)
}

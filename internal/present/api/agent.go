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

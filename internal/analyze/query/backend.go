package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// Endpoint is a read-only endpoint of a Prometheus-compatible API that
// servescope serves from the backend in external mode, beyond queries.
type Endpoint string

// The endpoints a Backend reads. Queries, series and labels go through
// Querier; these are passed on as the backend answers them.
const (
	EndpointMetadata    Endpoint = "/api/v1/metadata"
	EndpointRules       Endpoint = "/api/v1/rules"
	EndpointAlerts      Endpoint = "/api/v1/alerts"
	EndpointExemplars   Endpoint = "/api/v1/query_exemplars"
	EndpointConfig      Endpoint = "/api/v1/status/config"
	EndpointFlags       Endpoint = "/api/v1/status/flags"
	EndpointRuntimeinfo Endpoint = "/api/v1/status/runtimeinfo"
	EndpointTSDB        Endpoint = "/api/v1/status/tsdb"
	EndpointBuildinfo   Endpoint = "/api/v1/status/buildinfo"
)

// Endpoints are every Endpoint, in the order above.
var Endpoints = []Endpoint{EndpointMetadata, EndpointRules, EndpointAlerts, EndpointExemplars,
	EndpointConfig, EndpointFlags, EndpointRuntimeinfo, EndpointTSDB, EndpointBuildinfo}

// Backend is the rest of a Prometheus-compatible server's read API, the
// sibling of Status for the HTTP API: in external mode, metadata, rules,
// alerts, exemplars and the status pages are the backend's, not the idle
// embedded components'. Remote implements it; the embedded mode serves
// these endpoints from its own components instead.
type Backend interface {
	// Read calls ep with params and returns the data of the answer as the
	// backend sent it. An error is an *Error with the backend's type and
	// message, or ErrUnavailable when it did not answer; its message never
	// names the backend's address.
	Read(ctx context.Context, ep Endpoint, params url.Values) (Raw, error)
}

// Raw is the data of a successful answer, undecoded, with its annotations.
type Raw struct {
	Data     json.RawMessage
	Warnings []string
	Infos    []string
}

var _ Backend = (*Remote)(nil)

// envelope is the JSON envelope of every answer of Prometheus's API.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// Read implements Backend through the project's API client (the endpoints
// whose v1.API methods decode into structs that drop fields, such as the
// rule groups' evaluation times and the status pages' newer keys, are
// passed on undecoded so that servescope answers what the backend does).
func (r *Remote) Read(ctx context.Context, ep Endpoint, params url.Values) (Raw, error) {
	env, err := r.call(ctx, string(ep), params)
	if err != nil {
		return Raw{}, err
	}
	return Raw{Data: env.Data, Warnings: env.Warnings, Infos: env.Infos}, nil
}

// call sends GET path?params through the client and returns the envelope
// of a success. Failures are *Error without the backend's address.
func (r *Remote) call(ctx context.Context, path string, params url.Values) (envelope, error) {
	u := r.client.URL(path, nil)
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return envelope{}, r.classify(err)
	}
	resp, body, err := r.client.Do(ctx, req)
	if err != nil {
		return envelope{}, r.classify(err)
	}
	var env envelope
	if jerr := json.Unmarshal(body, &env); jerr != nil || (env.Status != "success" && env.Status != "error") {
		if resp.StatusCode == http.StatusNotFound {
			return envelope{}, &Error{Type: ErrNotFound, Err: fmt.Errorf("the query backend does not serve %s", path)}
		}
		if resp.StatusCode/100 != 2 {
			return envelope{}, &Error{Type: ErrUnavailable, Err: fmt.Errorf("the query backend answered %s to %s", resp.Status, path)}
		}
		return envelope{}, &Error{Type: ErrUnavailable, Err: fmt.Errorf("the query backend's answer to %s is not Prometheus's JSON envelope", path)}
	}
	if env.Status != "success" {
		typ := ErrorType(env.ErrorType)
		if typ == "" {
			typ = ErrInternal
		}
		return envelope{}, &Error{Type: typ, Err: errors.New(r.scrub(env.Error))}
	}
	return env, nil
}

// scrub removes the backend's URL and host from a message it sent.
func (r *Remote) scrub(msg string) string {
	msg = strings.ReplaceAll(msg, strings.TrimRight(r.url, "/"), "the query backend")
	if u, err := url.Parse(r.url); err == nil && u.Host != "" {
		msg = strings.ReplaceAll(msg, u.Host, "the query backend")
	}
	return msg
}

// transportError describes an error of the connection to the backend
// without its address: the client's errors quote the request URL and the
// dialled address, which must not reach API clients.
func transportError(err error) error {
	var (
		errno syscall.Errno
		dns   *net.DNSError
		nerr  net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Type: ErrCanceled, Err: errors.New("the query was canceled"), Detail: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Type: ErrTimeout, Err: errors.New("the query backend did not answer in time"), Detail: err}
	case errors.As(err, &errno):
		return &Error{Type: ErrUnavailable, Err: fmt.Errorf("the query backend did not answer: %s", errno.Error()), Detail: err}
	case errors.As(err, &dns):
		return &Error{Type: ErrUnavailable, Err: errors.New("the query backend did not answer: its name does not resolve"), Detail: err}
	case errors.As(err, &nerr) && nerr.Timeout():
		return &Error{Type: ErrTimeout, Err: errors.New("the query backend did not answer in time"), Detail: err}
	}
	return &Error{Type: ErrUnavailable, Err: errors.New("the query backend did not answer"), Detail: err}
}

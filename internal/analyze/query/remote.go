package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Remote is the Querier over any Prometheus-compatible HTTP API:
// Prometheus, Thanos, Mimir, VictoriaMetrics, or another servescope.
type Remote struct {
	api    v1.API
	client api.Client // for the endpoints v1.API decodes short (Targets)
	url    string
}

// NewRemote builds a Querier for the API at url.
func NewRemote(url string) (*Remote, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", url, err)
	}
	return &Remote{api: v1.NewAPI(c), client: c, url: url}, nil
}

// Query implements Querier.
func (r *Remote) Query(ctx context.Context, q string, t time.Time) (Result, error) {
	v, warnings, infos, err := r.api.Query(ctx, q, t)
	if err != nil {
		return Result{}, r.classify(err)
	}
	return Result{Value: v, Warnings: warnings, Infos: infos}, nil
}

// QueryRange implements Querier.
func (r *Remote) QueryRange(ctx context.Context, q string, rg Range) (Result, error) {
	v, warnings, infos, err := r.api.QueryRange(ctx, q, v1.Range{Start: rg.Start, End: rg.End, Step: rg.Step})
	if err != nil {
		return Result{}, r.classify(err)
	}
	return Result{Value: v, Warnings: warnings, Infos: infos}, nil
}

// Series implements Querier.
func (r *Remote) Series(ctx context.Context, matchers []string, start, end time.Time) ([]model.LabelSet, error) {
	out, _, _, err := r.api.Series(ctx, matchers, start, end)
	if err != nil {
		return nil, r.classify(err)
	}
	return out, nil
}

// LabelNames implements Querier.
func (r *Remote) LabelNames(ctx context.Context, matchers []string, start, end time.Time) ([]string, error) {
	names, _, _, err := r.api.LabelNames(ctx, matchers, start, end)
	if err != nil {
		return nil, r.classify(err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out, nil
}

// LabelValues implements Querier.
func (r *Remote) LabelValues(ctx context.Context, name string, matchers []string, start, end time.Time) ([]string, error) {
	vals, _, _, err := r.api.LabelValues(ctx, name, matchers, start, end)
	if err != nil {
		return nil, r.classify(err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out, nil
}

// classify keeps the remote API's error type and message, without the
// backend's address: the message goes to API clients. Errors of the
// connection keep their full text in Detail, for the log.
func (r *Remote) classify(err error) error {
	var qe *Error
	if errors.As(err, &qe) {
		return qe
	}
	var ae *v1.Error
	if !errors.As(err, &ae) {
		return transportError(err)
	}
	switch ae.Type {
	case v1.ErrBadResponse, v1.ErrServer, v1.ErrClient:
		return &Error{Type: ErrUnavailable, Err: fmt.Errorf("the query backend answered: %s", r.scrub(ae.Msg)), Detail: err}
	}
	return &Error{Type: ErrorType(ae.Type), Err: errors.New(r.scrub(ae.Msg))}
}

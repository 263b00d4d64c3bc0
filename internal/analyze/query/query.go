// Package query is the one seam analysis reads through. The Querier
// interface (instant and range queries, series, label names and values,
// capabilities) is implemented here by the embedded PromQL engine over the
// local store and, elsewhere, by a client of any Prometheus-compatible API,
// so analysis never knows which backend it has.
//
// This package is the only one that imports Prometheus's promql engine.
package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Querier is what analysis and the HTTP API read through.
type Querier interface {
	// Query evaluates an instant query at t.
	Query(ctx context.Context, q string, t time.Time) (Result, error)
	// QueryRange evaluates a range query.
	QueryRange(ctx context.Context, q string, r Range) (Result, error)
	// Series returns the label sets of series matching any of the selectors
	// within [start, end].
	Series(ctx context.Context, matchers []string, start, end time.Time) ([]model.LabelSet, error)
	// LabelNames returns label names, optionally restricted to series that
	// match any of the selectors.
	LabelNames(ctx context.Context, matchers []string, start, end time.Time) ([]string, error)
	// LabelValues returns the values of one label.
	LabelValues(ctx context.Context, name string, matchers []string, start, end time.Time) ([]string, error)
}

// Range is the time range and resolution of a range query.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// Result is a query's value and what the engine said about it.
type Result struct {
	// Value is a model.Vector, model.Matrix, *model.Scalar or *model.String.
	Value model.Value
	// Warnings and Infos are the engine's annotations.
	Warnings []string
	Infos    []string
}

// ErrorType classifies query errors the way Prometheus's API does, so the
// HTTP layer maps them to the same status codes.
type ErrorType string

// The error types of Prometheus's HTTP API.
const (
	ErrBadData   ErrorType = "bad_data"
	ErrExec      ErrorType = "execution"
	ErrTimeout   ErrorType = "timeout"
	ErrCanceled  ErrorType = "canceled"
	ErrInternal  ErrorType = "internal"
	ErrCostLimit ErrorType = "too_many_resources"
	// ErrUnavailable is a backend that did not answer (external mode).
	ErrUnavailable ErrorType = "unavailable"
	// ErrNotFound is an endpoint the backend does not serve.
	ErrNotFound ErrorType = "not_found"
)

// Error is a query error with its type. Err's message goes to API
// clients; Detail, when set, is the full cause for the server's log only
// (it may name internal addresses).
type Error struct {
	Type   ErrorType
	Err    error
	Detail error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns Err and Detail, so errors.Is and errors.As see the
// cause (callers on the command line still find the *url.Error).
func (e *Error) Unwrap() []error {
	if e.Detail == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Detail}
}

// TypeOf returns the ErrorType of err, ErrInternal when it carries none.
func TypeOf(err error) ErrorType {
	var qe *Error
	if errors.As(err, &qe) {
		return qe.Type
	}
	if errors.Is(err, context.Canceled) {
		return ErrCanceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrInternal
}

func badData(format string, args ...any) error {
	return &Error{Type: ErrBadData, Err: fmt.Errorf(format, args...)}
}

// metric turns Prometheus labels into a model.Metric.
func metric(ls labels.Labels) model.Metric {
	m := make(model.Metric, ls.Len())
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

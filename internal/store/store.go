// Package store holds the storage contracts that collection and analysis
// share. Collection writes through an Appender; analysis never touches the
// store directly and reads through the query package's Querier instead.
//
// It must not import collection, analysis or presentation packages.
package store

import (
	"context"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// Appender batches float and histogram samples and writes them on Commit. An Appender must
// not be used after Commit or Rollback.
type Appender interface {
	// Append adds one sample of the series ls at t (milliseconds since the
	// epoch).
	Append(ls labels.Labels, t int64, v float64) error
	// AppendHistogram adds one histogram sample of the series ls at t:
	// h, or fh when its counts are not integers (the other is nil).
	AppendHistogram(ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) error
	// Commit writes the batch.
	Commit() error
	// Rollback drops the batch.
	Rollback() error
}

// Appendable hands out Appenders.
type Appendable interface {
	Appender(ctx context.Context) Appender
}

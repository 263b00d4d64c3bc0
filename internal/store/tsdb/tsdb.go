// Package tsdb is servescope's embedded store: Prometheus's TSDB with its
// WAL, retention and compaction, behind the store contracts. It is the only
// package that imports github.com/prometheus/prometheus/tsdb.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	ptsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/servescope/servescope/internal/store"
)

// Options configure the embedded store.
type Options struct {
	// Path is the directory holding blocks and the WAL.
	Path string
	// Retention is how long samples are kept; zero means 15 days.
	Retention time.Duration
	// Logger receives the TSDB's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the TSDB's own metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// DefaultRetention is the retention used when Options.Retention is zero.
const DefaultRetention = 15 * 24 * time.Hour

// MaxExemplars is how many exemplars the store keeps, the latest: a ring
// allocated at open (0.7 MiB of heap measured for 10,000).
const MaxExemplars = 10_000

// DB is an open embedded store.
type DB struct {
	db   *ptsdb.DB
	path string
}

// Open opens or creates the store under opts.Path, replaying its WAL.
func Open(opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, errors.New("open store: empty path")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	retention := opts.Retention
	if retention == 0 {
		retention = DefaultRetention
	}
	if retention < 0 {
		return nil, fmt.Errorf("open store %s: negative retention %s", opts.Path, retention)
	}
	o := ptsdb.DefaultOptions()
	o.RetentionDuration = retention.Milliseconds()
	// Compact old blocks up to a tenth of the retention (at most 31 days),
	// as Prometheus does: with 2 h blocks only, a 30-day query walks 360
	// blocks per series.
	o.MaxBlockDuration = max(o.MinBlockDuration, min(31*24*time.Hour, retention/10).Milliseconds())
	// Exemplars scraped from OpenMetrics targets, for
	// /api/v1/query_exemplars: the latest MaxExemplars in a ring in memory.
	o.EnableExemplarStorage, o.MaxExemplars = true, MaxExemplars
	db, err := ptsdb.Open(opts.Path, logger.With("component", "tsdb"), opts.Registerer, o, nil)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
	}
	return &DB{db: db, path: opts.Path}, nil
}

// Close flushes and closes the store.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", d.path, err)
	}
	return nil
}

// Snapshot writes every block and the head, as blocks, into dir (which
// must not be the store's own directory).
func (d *DB) Snapshot(dir string) error {
	if err := d.db.Snapshot(dir, true); err != nil {
		return fmt.Errorf("snapshot store %s into %s: %w", d.path, dir, err)
	}
	return nil
}

// Queryable is the Prometheus view used by the PromQL engine adapter.
func (d *DB) Queryable() storage.Queryable { return d.db }

// AppendableV2 is the Prometheus view used by the scrape and rule managers.
func (d *DB) AppendableV2() storage.AppendableV2 { return d.db }

// HeadSeries is the number of series in the in-memory head block.
func (d *DB) HeadSeries() uint64 { return d.db.Head().NumSeries() }

// Appender returns a store.Appender that writes float samples.
func (d *DB) Appender(ctx context.Context) store.Appender {
	return &appender{app: d.db.AppenderV2(ctx)}
}

type appender struct {
	app storage.AppenderV2
}

func (a *appender) Append(ls labels.Labels, t int64, v float64) error {
	_, err := a.app.Append(0, ls, 0, t, v, nil, nil, storage.AOptions{})
	if err != nil {
		return fmt.Errorf("append %s at %d: %w", ls, t, err)
	}
	return nil
}

func (a *appender) Commit() error   { return a.app.Commit() }
func (a *appender) Rollback() error { return a.app.Rollback() }

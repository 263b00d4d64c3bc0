// Package tsdb is servescope's embedded store: Prometheus's TSDB with its
// WAL, retention and compaction, or, in agent mode, Prometheus's WAL-only
// agent store (tsdb/agent); either way with Prometheus's remote write
// (storage/remote) reading that WAL, wired as Prometheus's own main wires
// them (a fanout of the local store and the remote storage). It is the only
// package that imports github.com/prometheus/prometheus/tsdb and
// storage/remote.
package tsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	ptsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/agent"

	"github.com/servescope/servescope/internal/store"
)

// Options configure the embedded store.
type Options struct {
	// Path is the directory holding blocks and the WAL (in agent mode, the
	// WAL only).
	Path string
	// Retention is how long samples are kept; zero means 15 days. Unused
	// in agent mode, where the WAL keeps samples until remote write has
	// sent them (at most agent.DefaultMaxWALTime).
	Retention time.Duration
	// Agent opens Prometheus's agent store instead of the TSDB: scrape,
	// WAL and remote write, nothing to query.
	Agent bool
	// RemoteFlushDeadline bounds how long Close waits for remote write to
	// send what is queued; zero means one minute, as in Prometheus.
	RemoteFlushDeadline time.Duration
	// Logger receives the TSDB's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the TSDB's own metrics and remote write's
	// (prometheus_remote_storage_*); nil registers nowhere.
	Registerer prometheus.Registerer
}

// DefaultRetention is the retention used when Options.Retention is zero.
const DefaultRetention = 15 * 24 * time.Hour

// DefaultRemoteFlushDeadline is Options.RemoteFlushDeadline when zero.
const DefaultRemoteFlushDeadline = time.Minute

// MaxExemplars is how many exemplars the store keeps, the latest: a ring
// allocated at open (0.7 MiB of heap measured for 10,000).
const MaxExemplars = 10_000

// The head's series map stripes (a power of two) and its chunk write
// buffer.
const (
	stripeSize            = 8192
	headChunksWriteBuffer = 512 << 10
)

// DB is an open embedded store.
type DB struct {
	db    *ptsdb.DB // nil in agent mode
	agent *agent.DB // nil unless agent mode
	local storage.Storage
	// remote is remote write, reading the WAL of db or agent; fanout
	// appends to the local store and tells remote write the newest
	// timestamp appended (its lag and resharding read it).
	remote *remote.Storage
	scrape *scrapeRef
	fanout storage.Storage
	path   string
	// names answers the label names per metric name (nil in agent mode).
	names *MetricLabels
}

// Open opens or creates the store under opts.Path, replaying its WAL.
func Open(opts Options) (_ *DB, err error) {
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
	flush := opts.RemoteFlushDeadline
	if flush == 0 {
		flush = DefaultRemoteFlushDeadline
	}
	d := &DB{path: opts.Path, scrape: &scrapeRef{}}
	// Remote write watches <path>/wal, the WAL of either store.
	d.remote = remote.NewStorage(logger.With("component", "remote"), opts.Registerer, d.startTime, opts.Path, flush, d.scrape, false)
	defer func() {
		if err != nil {
			_ = d.remote.Close()
		}
	}()
	if opts.Agent {
		// The TSDB keeps head chunks there; the agent would replay the
		// TSDB's WAL as its own and truncate it.
		if _, err := os.Stat(filepath.Join(opts.Path, "chunks_head")); err == nil {
			return nil, fmt.Errorf("open agent store %s: the directory holds a TSDB; give the agent a --storage.path of its own", opts.Path)
		}
		d.agent, err = agent.Open(logger.With("component", "agent"), opts.Registerer, d.remote, opts.Path, agent.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("open agent store %s: %w", opts.Path, err)
		}
		d.agent.SetWriteNotified(d.remote)
		d.local = d.agent
	} else {
		o := ptsdb.DefaultOptions()
		o.RetentionDuration = retention.Milliseconds()
		// Compact old blocks up to a tenth of the retention (at most 31
		// days), as Prometheus does: with 2 h blocks only, a 30-day query
		// walks 360 blocks per series.
		o.MaxBlockDuration = max(o.MinBlockDuration, min(31*24*time.Hour, retention/10).Milliseconds())
		// Exemplars scraped from OpenMetrics targets, for
		// /api/v1/query_exemplars: the latest MaxExemplars in a ring in
		// memory.
		o.EnableExemplarStorage, o.MaxExemplars = true, MaxExemplars
		// Sized for what servescope stores (the series the analysis reads,
		// not every exposed one), not Prometheus's defaults: 16,384 series
		// map stripes hold ~7 MB live whatever the fleet (2,048 saved more
		// but slowed the 1,000-GPU dashboard's cold pages by ~20%: stripe
		// locks shared by concurrent queries), and the head chunks' 4 MiB
		// write buffer is written a few KiB a second.
		o.StripeSize, o.HeadChunksWriteBufferSize = stripeSize, headChunksWriteBuffer
		d.db, err = ptsdb.Open(opts.Path, logger.With("component", "tsdb"), opts.Registerer, o, nil)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", opts.Path, err)
		}
		d.db.SetWriteNotified(d.remote)
		d.local = d.db
		d.names = NewMetricLabels(d.db)
	}
	d.fanout = storage.NewFanout(logger, d.local, d.remote)
	return d, nil
}

// startTime is the oldest timestamp of the local store, for remote read
// (which servescope does not serve; storage/remote asks for it).
func (d *DB) startTime() (int64, error) {
	if d.local == nil {
		return 0, errors.New("store not open")
	}
	return d.local.StartTime()
}

// Agent says whether this is the WAL-only agent store.
func (d *DB) Agent() bool { return d.agent != nil }

// Close stops remote write, letting it send what is queued for at most
// the flush deadline, then flushes and closes the local store.
func (d *DB) Close() error {
	if err := d.fanout.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", d.path, err)
	}
	return nil
}

// Snapshot writes every block and the head, as blocks, into dir (which
// must not be the store's own directory).
func (d *DB) Snapshot(dir string) error {
	if d.db == nil {
		return fmt.Errorf("snapshot store %s: %w", d.path, ErrAgent)
	}
	if err := d.db.Snapshot(dir, true); err != nil {
		return fmt.Errorf("snapshot store %s into %s: %w", d.path, dir, err)
	}
	return nil
}

// ErrAgent is returned for what the agent store cannot do: queries,
// snapshots, direct appends.
var ErrAgent = errors.New("unavailable in agent mode (the store is a WAL for remote write only)")

// Queryable is the Prometheus view used by the PromQL engine adapter; in
// agent mode every query fails with Prometheus's agent error.
func (d *DB) Queryable() storage.Queryable { return d.local }

// AppendableV2 is the Prometheus view used by the scrape and rule
// managers: the local store and remote write's timestamp tracking.
func (d *DB) AppendableV2() storage.AppendableV2 { return d.fanout }

// HeadSeries is the number of series in the in-memory head block (zero
// in agent mode, which has none: see prometheus_agent_active_series).
func (d *DB) HeadSeries() uint64 {
	if d.db == nil {
		return 0
	}
	return d.db.Head().NumSeries()
}

// Appender returns a store.Appender that writes float and histogram samples straight
// into the local store (backfill, tests).
func (d *DB) Appender(ctx context.Context) store.Appender {
	return &appender{app: d.local.AppenderV2(ctx)}
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

func (a *appender) AppendHistogram(ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) error {
	_, err := a.app.Append(0, ls, 0, t, 0, h, fh, storage.AOptions{})
	if err != nil {
		return fmt.Errorf("append histogram %s at %d: %w", ls, t, err)
	}
	return nil
}

func (a *appender) Commit() error   { return a.app.Commit() }
func (a *appender) Rollback() error { return a.app.Rollback() }

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// BackfillOptions configure Backfill.
type BackfillOptions struct {
	// Scenario is the loaded scenario (sim.LoadScenario).
	Scenario *sim.Scenario
	// GPUs sizes the fleet; 0 uses the scenario's size.
	GPUs int
	// Seed fixes the simulation.
	Seed uint64
	// Duration is how much history to write, ending at End.
	Duration time.Duration
	// End is the simulated time of the last scrape; zero means now,
	// truncated to Interval, and a slow backfill catches up with the wall
	// clock before it returns, so live scraping continues without a gap.
	End time.Time
	// Interval is the simulated scrape interval (default 15s).
	Interval time.Duration
	// Warmup is simulated before the first scrape and not written, so the
	// history starts from a running fleet, not from idle engines filling
	// up (zero: none; `sim backfill` uses 5m). Slices written one after
	// another then join without a dip.
	Warmup time.Duration
	// StoragePath is the store's directory.
	StoragePath string
	// ClassicHistograms writes classic histograms as exposed, a series
	// per bucket; false (the default) writes each as one native histogram
	// with custom buckets, as `serve` scrapes them unless
	// servescope.keep_classic_histograms is set.
	ClassicHistograms bool
	// Retention is the store's retention; zero keeps the store's default
	// or Duration plus a day, whichever is longer.
	Retention time.Duration
	// EvalInterval is how often the catalog's recording rules are
	// evaluated over the history, as the live rule manager would have
	// (default 1m, Prometheus's evaluation_interval); negative skips them.
	EvalInterval time.Duration
	// Rules are rule sets evaluated after the catalog's at every
	// EvalInterval (the latency objectives' rules and alerts), so their
	// series and ALERTS have the history's past too.
	Rules []rules.Builtin
	// OnlyRules skips the catalog's recording rules, evaluating Rules
	// alone (tests that read raw series and Rules' output only).
	OnlyRules bool
	// Notify receives the alerts of Rules as the rule manager sends them
	// at each evaluation (nil drops them).
	Notify func(ctx context.Context, expr string, alerts ...*rules.Alert)
	// Into, when set, is the data directory of a running servescope (or
	// any store): once the history is written to StoragePath (a scratch
	// store), it is cut into blocks and moved there, where the server
	// loads them at its next block reload (within a minute). The history
	// must end before the oldest sample in that store's head, as
	// Prometheus's own backfill (promtool tsdb create-blocks-from) asks.
	Into string
	// ExternalLabels are added to every scraped series, as Prometheus's
	// global.external_labels are to what it sends: cluster=<name> writes
	// the history of one of several clusters sending to one backend.
	ExternalLabels map[string]string
	// Progress, when set, is told after each simulated scrape how much of
	// the history is written.
	Progress func(done, total time.Duration)
	// Logger receives progress; nil discards it. The store's own logs
	// below warnings are dropped (head GC, compactions).
	Logger *slog.Logger
}

// BackfillResult says what Backfill wrote.
type BackfillResult struct {
	Start, End time.Time
	Scrapes    int // target scrapes ingested
	Failed     int // scrapes of targets that were down (up = 0)
	Samples    int // samples appended, up series included
	Cluster    *sim.Cluster
}

// Backfill runs the simulator from End-Duration to End and writes each
// target's exposition at every simulated scrape into the store at
// opts.StoragePath, as a scrape would: the target's job and labels attached
// (honor_labels as the target says), an up series, and the scrape time as
// the sample timestamp.
func Backfill(ctx context.Context, opts BackfillOptions) (BackfillResult, error) {
	if opts.Duration <= 0 {
		return BackfillResult{}, errors.New("backfill: duration must be positive")
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.EvalInterval == 0 {
		opts.EvalInterval = time.Minute
	}
	followNow := opts.End.IsZero()
	if followNow {
		opts.End = time.Now().UTC()
	}
	opts.End = opts.End.Truncate(opts.Interval)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	logger := opts.Logger.With("component", "backfill")
	start := opts.End.Add(-opts.Duration)
	warmup := max(opts.Warmup, 0)
	c, err := sim.NewCluster(sim.Options{Scenario: opts.Scenario, GPUs: opts.GPUs, Seed: opts.Seed, Start: start.Add(-warmup), Logger: opts.Logger})
	if err != nil {
		return BackfillResult{}, fmt.Errorf("backfill: %w", err)
	}
	if warmup > 0 {
		c.Step(start.Add(-opts.Interval))
	}
	retention := opts.Retention
	if retention == 0 {
		retention = max(tsdb.DefaultRetention, opts.Duration+24*time.Hour)
	}
	db, err := tsdb.Open(tsdb.Options{Path: opts.StoragePath, Retention: retention, Logger: slog.New(atLeast{slog.LevelWarn, opts.Logger.Handler()})})
	if err != nil {
		return BackfillResult{}, fmt.Errorf("backfill: %w", err)
	}
	res := BackfillResult{Start: start, End: opts.End, Cluster: c}
	evalAt, err := recorder(db, opts)
	if err != nil {
		db.Close()
		return res, fmt.Errorf("backfill: %w", err)
	}
	for t := start; ; t = t.Add(opts.Interval) {
		if t.After(opts.End) {
			now := time.Now().UTC().Truncate(opts.Interval)
			if !followNow || t.After(now) {
				break
			}
			opts.End = now // catch up with the time spent backfilling
		}
		if err := ctx.Err(); err != nil {
			db.Close()
			return res, fmt.Errorf("backfill interrupted at %s: %w", t.Format(time.RFC3339), err)
		}
		c.Step(t)
		if err := scrapeAll(ctx, c, db, t, opts.ExternalLabels, parse.Options{ConvertNHCB: !opts.ClassicHistograms}, &res); err != nil {
			db.Close()
			return res, fmt.Errorf("backfill at %s: %w", t.Format(time.RFC3339), err)
		}
		if evalAt != nil && t.Sub(start)%opts.EvalInterval == 0 {
			evalAt(ctx, t)
		}
		if opts.Progress != nil {
			opts.Progress(t.Sub(start), opts.End.Sub(start))
		}
	}
	res.End = opts.End
	if opts.Into != "" {
		if err := publish(db, opts.Into); err != nil {
			db.Close()
			return res, fmt.Errorf("backfill: %w", err)
		}
	}
	if err := db.Close(); err != nil {
		return res, fmt.Errorf("backfill: %w", err)
	}
	logger.Info("backfill done", "scenario", opts.Scenario.Name, "from", start, "to", opts.End, "samples", res.Samples, "scrapes", res.Scrapes)
	return res, nil
}

// publish cuts the store into blocks in a staging directory inside into
// (same file system, a name the TSDB ignores and removes at start) and
// renames each block into place, so a running server never sees half a
// block.
func publish(db *tsdb.DB, into string) error {
	if err := os.MkdirAll(into, 0o755); err != nil {
		return fmt.Errorf("blocks into %s: %w", into, err)
	}
	staging, err := os.MkdirTemp(into, "backfill-*.tmp")
	if err != nil {
		return fmt.Errorf("blocks into %s: %w", into, err)
	}
	defer os.RemoveAll(staging)
	if err := db.Snapshot(staging); err != nil {
		return err
	}
	blocks, err := os.ReadDir(staging)
	if err != nil {
		return fmt.Errorf("blocks into %s: %w", into, err)
	}
	for _, b := range blocks {
		if err := os.Rename(filepath.Join(staging, b.Name()), filepath.Join(into, b.Name())); err != nil {
			return fmt.Errorf("blocks into %s: %w", into, err)
		}
	}
	return nil
}

// atLeast drops records below a level: the store's routine logs would
// bury the backfill's own.
type atLeast struct {
	min slog.Level
	slog.Handler
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return atLeast{h.min, h.Handler.WithAttrs(as)}
}
func (h atLeast) WithGroup(n string) slog.Handler { return atLeast{h.min, h.Handler.WithGroup(n)} }

// recorder returns what evaluates the catalog's recording rules over the
// store at one time, or nil when opts skip them. Rules run right after the
// scrape at the same time, so they read complete data and append in time
// order, as the live rule manager does.
func recorder(db *tsdb.DB, opts BackfillOptions) (func(context.Context, time.Time), error) {
	if opts.EvalInterval < 0 {
		return nil, nil
	}
	if opts.EvalInterval == 0 {
		opts.EvalInterval = time.Minute
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		return nil, fmt.Errorf("signal catalog: %w", err)
	}
	eng := query.NewEngine(db.Queryable(), query.EngineOptions{Timeout: 2 * time.Minute, MaxSamples: 50_000_000, Logger: opts.Logger, Registerer: prometheus.NewRegistry()})
	rm, err := rules.New(rules.Options{Logger: opts.Logger, Appendable: db.AppendableV2(), Queryable: db.Queryable(), Engine: eng.Promql(), Lookback: eng.LookbackDelta(), Interval: opts.EvalInterval, Notify: opts.Notify, MetricLabels: db.MetricLabelNames})
	if err != nil {
		return nil, err
	}
	sets := []rules.Builtin{{Name: "catalog", Groups: cat.RuleGroups(opts.EvalInterval)}}
	if opts.OnlyRules {
		sets = nil
	}
	if err := rm.ApplyConfig(nil, append(sets, opts.Rules...)...); err != nil {
		return nil, fmt.Errorf("catalog rules: %w", err)
	}
	return rm.EvalAt, nil
}

// scrapeAll renders and ingests every target at t, spreading the targets
// over one worker per core, each with its own append batch.
func scrapeAll(ctx context.Context, c *sim.Cluster, db store.Appendable, t time.Time, ext map[string]string, po parse.Options, res *BackfillResult) error {
	targets := c.Targets()
	workers := min(runtime.GOMAXPROCS(0), len(targets))
	parts := make([]BackfillResult, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mine []sim.Target
			for i := w; i < len(targets); i += workers {
				mine = append(mine, targets[i])
			}
			errs[w] = scrapeSome(ctx, c, db, mine, t.UnixMilli(), ext, po, &parts[w])
		})
	}
	wg.Wait()
	for w := range workers {
		res.Samples += parts[w].Samples
		res.Scrapes += parts[w].Scrapes
		res.Failed += parts[w].Failed
	}
	return errors.Join(errs...)
}

// scrapeSome ingests targets in one append batch.
func scrapeSome(ctx context.Context, c *sim.Cluster, db store.Appendable, targets []sim.Target, ts int64, ext map[string]string, po parse.Options, res *BackfillResult) error {
	app := db.Appender(ctx)
	for _, tg := range targets {
		target := targetLabels(tg, ext)
		up := 1.0
		body, err := c.RenderBytes(tg.Path)
		switch {
		case errors.Is(err, sim.ErrTargetDown):
			up = 0
			res.Failed++
		case err != nil:
			_ = app.Rollback() // the render error is the one to report
			return fmt.Errorf("render %s: %w", tg.Path, err)
		default:
			n, err := ingest(app, body, target, ts, tg.HonorLabels, po)
			if err != nil {
				_ = app.Rollback() // the ingest error is the one to report
				return fmt.Errorf("ingest %s: %w", tg.Path, err)
			}
			res.Samples += n
			res.Scrapes++
		}
		upLabels := labels.NewBuilder(target).Set(model.MetricNameLabel, "up").Labels()
		if err := app.Append(upLabels, ts, up); err != nil {
			_ = app.Rollback() // the append error is the one to report
			return fmt.Errorf("append up for %s: %w", tg.Path, err)
		}
		res.Samples++
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// targetLabels are the labels a scrape attaches: job plus the target's,
// and the external labels.
func targetLabels(tg sim.Target, ext map[string]string) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	b.Set("job", tg.Job)
	for k, v := range tg.Labels {
		b.Set(k, v)
	}
	for k, v := range ext {
		b.Set(k, v)
	}
	return b.Labels()
}

// ingest appends one scrape, with the target's honor_labels, its classic
// histograms converted to NHCB as po says.
func ingest(app store.Appender, body []byte, target labels.Labels, ts int64, honor bool, po parse.Options) (int, error) {
	return parse.IngestWith(app, body, sim.TextContentType, po, target, ts, honor)
}

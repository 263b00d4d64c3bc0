package app

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/cli"
)

// DefaultTopInterval is top's refresh interval when the server tells no
// scrape interval.
const DefaultTopInterval = 15 * time.Second

// TopOptions configure `servescope top`.
type TopOptions struct {
	// Server is the URL of a running servescope or any
	// Prometheus-compatible API.
	Server string
	// Interval is the refresh interval; zero asks the server for its
	// scrape interval (DefaultTopInterval when it tells none).
	Interval time.Duration
	// Window is the diagnosis window ending at each read.
	Window   time.Duration
	Recorded bool
	// Cluster, if set, shows that cluster only; otherwise every cluster.
	Cluster string
	// Cost names the team label; Thresholds are the diagnosis's (zero:
	// the defaults).
	Cost       CostOptions
	Thresholds diagnose.Thresholds
}

// NewTop builds top's table over o.Server and returns it with the refresh
// interval chosen.
func NewTop(ctx context.Context, o TopOptions) (*cli.Top, time.Duration, error) {
	rq, err := query.NewRemote(o.Server)
	if err != nil {
		return nil, 0, err
	}
	q := cluster.Scope(rq, o.Cost.ClusterLabel, o.Cluster)
	interval := o.Interval
	if interval == 0 {
		interval = DefaultTopInterval
		askCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := cli.ScrapeInterval(askCtx, rq)
		cancel()
		switch {
		case err == nil:
			interval = d
		case !errors.Is(err, cli.ErrNoScrapeInterval):
			return nil, 0, err
		}
	}
	fc, cat, err := NewFleetCalculator(o.Cost, o.Recorded)
	if err != nil {
		return nil, 0, err
	}
	top, err := cli.NewTop(cli.TopOptions{Querier: q, Catalog: cat, Recorded: o.Recorded, Step: interval, Window: o.Window, Thresholds: o.Thresholds, Fleet: fc})
	if err != nil {
		return nil, 0, err
	}
	return top, interval, nil
}

// WriteSummary writes the one-screen summary of the server at url
// (servescope or any Prometheus-compatible API) as of now: of cluster name
// only when one is given (the value of co's cluster label), else of every
// cluster, with a line for each when there are several.
func WriteSummary(ctx context.Context, w io.Writer, url string, co CostOptions, name string, now time.Time) error {
	q, err := remote(url, co, name)
	if err != nil {
		return err
	}
	fc, cat, err := NewFleetCalculator(co, false)
	if err != nil {
		return err
	}
	return cli.Summary(ctx, w, cli.SummaryOptions{Querier: q, Fleet: fc, Catalog: cat, Cluster: name}, now)
}

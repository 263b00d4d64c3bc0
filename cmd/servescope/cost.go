package main

import (
	"context"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/cli"
)

// costCommands is `cost`: GPU-hours and cost per team, namespace, queue or
// GPU model over a window, computed against a running servescope or any
// Prometheus-compatible API.
func costCommands(a *kingpin.Application, e env) []command {
	c := a.Command("cost", "GPU-hours (reserved, allocated, used, idle) and cost per team over a window.")
	var (
		window, by, output, server string
		cluster                    string
		split, resolution          time.Duration
		shareIdle                  bool
		set                        settingsFlags
	)
	c.Flag("window", "1h (or -1h), 24h, 7d, 30d, today, yesterday, or START,END (each RFC 3339, Unix seconds, a duration ago, now, today or yesterday).").Default("24h").StringVar(&window)
	c.Flag("by", "Group by team, namespace, queue, model or cluster.").Default("team").EnumVar(&by, "team", "namespace", "queue", "model", "cluster")
	c.Flag("output", "table, json or csv.").Default(cli.CostTable).EnumVar(&output, cli.CostTable, cli.CostJSON, cli.CostCSV)
	c.Flag("server", "URL of servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&server)
	c.Flag("share-idle", "Spread idle GPU-hours over the allocations in proportion to their allocated hours.").BoolVar(&shareIdle)
	c.Flag("split", "Cut the window into sets of this length (24h: one per day).").SetValue(durationValue{&split})
	c.Flag("resolution", "Evaluation step (default: window/1440 within [1m, 1h]).").SetValue(durationValue{&resolution})
	addSettings(c, &set, withTeamLabel|withPrices|withQueueTeams)
	addCluster(c, &cluster)
	return []command{{clause: c, run: func(ctx context.Context) error {
		now := time.Now().UTC()
		start, end, err := cost.ParseWindow(window, now)
		if err != nil {
			return err
		}
		st, err := set.resolve()
		if err != nil {
			return err
		}
		rep, err := app.CostReport(ctx, server, st.Cost(), cost.Request{Start: start, End: end, By: cost.Aggregate(by), ShareIdle: shareIdle, Split: split, Step: resolution, Cluster: cluster})
		if err != nil {
			return err
		}
		return cli.WriteCost(e.stdout, rep, output)
	}}}
}

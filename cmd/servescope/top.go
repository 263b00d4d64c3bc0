package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/term"

	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/cli"
)

// topCommands is `top`: a live table of the engine pods read from a
// running servescope or any Prometheus-compatible API.
func topCommands(a *kingpin.Application, e env) []command {
	c := a.Command("top", "Live table of the engine pods: GPUs, busy, memory bandwidth, KV cache, requests, TTFT, tokens/s and diagnosis.")
	var (
		server, sortBy, filter  string
		cluster                 string
		interval, window        time.Duration
		reverse, once, recorded bool
		set                     settingsFlags
	)
	c.Flag("server", "URL of a running servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&server)
	c.Flag("interval", "Refresh interval (default: the server's scrape interval, else 15s).").SetValue(durationValue{&interval})
	c.Flag("window", "Diagnosis window ending at each read.").Default("15m").SetValue(spanValue{&window, "--window"})
	c.Flag("sort", "Column to sort by; < and > change it while running.").Default("diagnosis").EnumVar(&sortBy, cli.TopColumnNames()...)
	c.Flag("filter", "Only pods whose namespace, name or model contains this (any case); / changes it while running.").StringVar(&filter)
	c.Flag("reverse", "Reverse the column's natural order (numbers largest first, problems first).").BoolVar(&reverse)
	c.Flag("once", "Print one table and exit (the default when stdin or stdout is not a terminal).").BoolVar(&once)
	addSettings(c, &set, withTeamLabel)
	addCluster(c, &cluster)
	c.Flag("recorded", "Read servescope's recorded series (the backend evaluates the catalog's rules).").BoolVar(&recorded)
	return []command{{clause: c, run: func(ctx context.Context) error {
		col, err := cli.ParseTopColumn(sortBy)
		if err != nil {
			return err
		}
		sort := cli.TopSort{Column: col, Reverse: reverse}
		if window <= 0 {
			return fmt.Errorf("--window %s: give a window of at least one diagnosis step", window)
		}
		if interval < 0 {
			return fmt.Errorf("--interval %s is negative", interval)
		}
		st, err := set.resolve()
		if err != nil {
			return err
		}
		top, interval, err := app.NewTop(ctx, app.TopOptions{Server: server, Cluster: cluster, Interval: interval, Window: window, Recorded: recorded, Cost: st.Cost(), Thresholds: st.Thresholds})
		if err != nil {
			return err
		}
		stdin, stdout := int(os.Stdin.Fd()), -1
		if f, ok := e.stdout.(*os.File); ok {
			stdout = int(f.Fd())
		}
		if once || !term.IsTerminal(stdin) || stdout < 0 || !term.IsTerminal(stdout) {
			at := time.Now()
			rows, err := top.Rows(ctx, at)
			if err != nil {
				return fmt.Errorf("%s: %w", server, err)
			}
			return cli.RenderTop(e.stdout, cli.TopView{Server: server, At: at, Interval: interval, Window: window, Rows: rows, Sort: sort, Filter: filter, Fleet: top.FleetLine(), Queues: top.QueueLine()})
		}
		state, err := term.MakeRaw(stdin)
		if err != nil {
			return fmt.Errorf("terminal raw mode: %w", err)
		}
		defer func() { _ = term.Restore(stdin, state) }() // nothing to do if the terminal is gone
		return cli.RunTop(ctx, cli.TopLoopOptions{Source: top, Server: server, Interval: interval, Window: window, Sort: sort, Filter: filter,
			In: os.Stdin, Out: e.stdout, Now: time.Now,
			Size: func() (int, int) {
				w, h, err := term.GetSize(stdout)
				if err != nil {
					return 0, 0
				}
				return w, h
			}})
	}}}
}

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/app"
)

// costCommands is `cost`: GPU-hours and cost per team, namespace, queue or
// GPU model over a window, computed against a running servescope or any
// Prometheus-compatible API.
func costCommands(a *kingpin.Application, e env) []command {
	c := a.Command("cost", "GPU-hours (reserved, allocated, used, idle) and cost per team over a window.")
	var (
		window, by, output, server string
		split, resolution          time.Duration
		shareIdle                  bool
		set                        settingsFlags
	)
	c.Flag("window", "1h (or -1h), 24h, 7d, 30d, today, yesterday, or START,END (each RFC 3339, Unix seconds, a duration ago, now, today or yesterday).").Default("24h").StringVar(&window)
	c.Flag("by", "Group by team, namespace, queue or model.").Default("team").EnumVar(&by, "team", "namespace", "queue", "model")
	c.Flag("output", "table, json or csv.").Default("table").EnumVar(&output, "table", "json", "csv")
	c.Flag("server", "URL of servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&server)
	c.Flag("share-idle", "Spread idle GPU-hours over the allocations in proportion to their allocated hours.").BoolVar(&shareIdle)
	c.Flag("split", "Cut the window into sets of this length (24h: one per day).").SetValue(durationValue{&split})
	c.Flag("resolution", "Evaluation step (default: window/1440 within [1m, 1h]).").SetValue(durationValue{&resolution})
	addSettings(c, &set, withTeamLabel|withPrices|withQueueTeams)
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
		rep, err := app.CostReport(ctx, server, st.Cost(), cost.Request{Start: start, End: end, By: cost.Aggregate(by), ShareIdle: shareIdle, Split: split, Step: resolution})
		if err != nil {
			return err
		}
		return writeCost(e.stdout, rep, output)
	}}}
}

// writeCost renders a report as a table, JSON or CSV.
func writeCost(w io.Writer, rep *cost.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	header := []string{"window", string(rep.By), "reserved_gpu_h", "allocated_gpu_h", "pod_gpu_h", "kueue_gpu_h", "used_gpu_h", "unused_gpu_h", "idle_gpu_h", "efficiency", "cost", "unused_cost", "idle_cost", "total_cost", "unpriced"}
	var rows [][]string
	for _, set := range rep.Sets {
		// The span with data; a set without data shows the requested
		// window (its warning says there was nothing to attribute).
		from, to := set.CoveredStart, set.CoveredEnd
		if from.IsZero() {
			from, to = set.Start, set.End
		}
		win := from.Format(time.RFC3339) + "/" + to.Format(time.RFC3339)
		all := set.Allocations
		if set.Idle != nil {
			all = append(all, *set.Idle)
		}
		all = append(all, set.Totals)
		for _, a := range all {
			rows = append(rows, []string{win, a.Name, costHours(a.ReservedGPUHours), costHours(a.AllocatedGPUHours), costHours(a.PodGPUHours),
				costHours(a.KueueGPUHours), costHours(a.UsedGPUHours), costHours(max(0, a.AllocatedGPUHours-a.UsedGPUHours)), costHours(a.IdleGPUHours),
				strconv.FormatFloat(a.Efficiency, 'f', 3, 64), costMoney(rep, a.Cost, format), costMoney(rep, a.UnusedCost, format),
				costMoney(rep, a.IdleCost, format), costMoney(rep, a.TotalCost, format), strings.Join(a.Unpriced, " ")})
		}
	}
	if format == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		if err := cw.WriteAll(rows); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(header, "\t")))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	unpriced := false
	for _, set := range rep.Sets {
		if set.Fleet.PhysicalGPUs > 0 {
			fmt.Fprintf(tw, "fleet at %s: %s; %.2f GPU-equivalents; allocatable %s GPU-h (%s) = allocated + idle\n",
				set.End.Format(time.RFC3339), fleet.GPUsText(set.Fleet.ModelGPUs), set.Fleet.GPUEquivalents,
				costHours(set.Fleet.AllocatableGPUHours), costMoney(rep, set.Fleet.AllocatableCost, format))
		}
		for _, warn := range set.Warnings {
			fmt.Fprintf(tw, "warning: %s\n", warn)
		}
		for _, a := range append(slices.Clone(set.Allocations), set.Totals) {
			unpriced = unpriced || len(a.Unpriced) > 0
		}
	}
	if unpriced {
		fmt.Fprintln(tw, "note: some GPU-hours are unpriced (UNPRICED column): give a price book with --prices FILE (e.g. examples/scenarios/prices.yml) or price_book in --config")
	}
	return tw.Flush()
}

func costHours(h float64) string { return strconv.FormatFloat(h, 'f', 3, 64) }

// costMoney prints money as every surface does in tables and full
// micro-units in CSV.
func costMoney(rep *cost.Report, m cost.Micros, format string) string {
	if format == "csv" {
		return m.String()
	}
	return m.Format(rep.Currency)
}

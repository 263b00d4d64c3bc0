package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/model"
	"github.com/servescope/servescope/internal/schema"
)

// diagnoseCommands are `diagnose` (why the GPUs are not used, and what to
// do), `report fleet` (the default of `report`: the self-contained report,
// report.go), `report utilisation` (the utilisation table) and
// `alert-rules` (the alerting rules for an external Prometheus). The
// reports and the diagnosis read a running servescope, or any
// Prometheus-compatible API, through the Querier.
func diagnoseCommands(a *kingpin.Application, e env) []command {
	type common struct {
		server   string
		since    time.Duration
		at       time.Time
		recorded bool
		set      settingsFlags
	}
	flags := func(c *kingpin.CmdClause, o *common, since string) {
		c.Flag("server", "URL of a running servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&o.server)
		c.Flag("since", "Window to diagnose, ending at --at (1h, 24h, 7d).").Default(since).SetValue(spanValue{&o.since, "--since"})
		c.Flag("at", "End of the window: RFC 3339, Unix seconds, a duration ago (-1h), now, today or yesterday; default now.").SetValue(timeValue{&o.at, "--at"})
		c.Flag("recorded", "Read servescope's recorded series (the backend evaluates the catalog's rules).").BoolVar(&o.recorded)
		which := withTeamLabel
		if c.FullCommand() == "report utilisation" {
			which |= withPrices
		}
		addSettings(c, &o.set, which)
	}
	diag := a.Command("diagnose", "Say why GPUs are not used and what to do: findings per pod, GPU, model and fleet.")
	var dOpts common
	var output string
	flags(diag, &dOpts, "1h")
	diag.Flag("output", "Output format.").Default("table").EnumVar(&output, "table", "json")

	rep := a.Command("report", "Reports over the fleet: the self-contained fleet report (the default) and utilisation.")
	fleet := reportFleetCommand(rep, e)
	util := rep.Command("utilisation", "Fleet utilisation: busy distribution, idle GPU-hours and their cost, capacity per model.")
	var uOpts common
	flags(util, &uOpts, "24h")

	rul := a.Command("alert-rules", "Write servescope's alerting rules (a Prometheus rules file) to stdout.")
	var interval time.Duration
	rul.Flag("interval", "Evaluation interval of the rule group.").Default("30s").SetValue(durationValue{&interval})
	var rulSet settingsFlags
	addSettings(rul, &rulSet, withTeamLabel)

	run := func(ctx context.Context, o common, st app.Settings) (*diagnose.Report, *diagnose.Diagnoser, error) {
		at := o.at
		if at.IsZero() {
			at = time.Now()
		}
		q, err := query.NewRemote(o.server)
		if err != nil {
			return nil, nil, err
		}
		// The price book is cost's (strict, micro-units), read once.
		d, err := app.NewDiagnoser(q, o.recorded, st.Cost(), st.Thresholds)
		if err != nil {
			return nil, nil, err
		}
		r, err := d.Diagnose(ctx, at, o.since)
		if err != nil {
			return nil, nil, fmt.Errorf("diagnose %s: %w", o.server, err)
		}
		return r, d, nil
	}
	return []command{
		fleet,
		{clause: diag, run: func(ctx context.Context) error {
			st, err := dOpts.set.resolve()
			if err != nil {
				return err
			}
			r, _, err := run(ctx, dOpts, st)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return writeFindings(e.stdout, r)
		}},
		{clause: util, run: func(ctx context.Context) error {
			st, err := uOpts.set.resolve()
			if err != nil {
				return err
			}
			r, _, err := run(ctx, uOpts, st)
			if err != nil {
				return err
			}
			if err := writeUtilisation(e.stdout, r); err != nil {
				return err
			}
			return warnCoverage(ctx, e.stdout, uOpts.server, r.At, r.Window)
		}},
		{clause: rul, run: func(context.Context) error {
			st, err := rulSet.resolve()
			if err != nil {
				return err
			}
			cat, err := schema.New(schema.Options{TeamLabel: st.TeamLabel})
			if err != nil {
				return err
			}
			b, err := diagnose.AlertRulesFile(cat, st.Thresholds, interval)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}},
	}
}

// writeFindings lists the findings by impact, identical findings on the
// pods of one deployment on one line with their count, healthy subjects
// hidden and counted.
func writeFindings(w io.Writer, r *diagnose.Report) error {
	groups, healthy := diagnose.Visible(r.Findings)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	listed := 0 // the header counts what the table lists
	for _, g := range groups {
		listed += g.Count
	}
	fmt.Fprintf(tw, "diagnosis at %s over %s: %d pods, %d findings (healthy subjects not listed)\n", r.At.UTC().Format(time.RFC3339), r.Window, len(r.Pods), listed)
	if m := r.Utilisation.Fleet; m != nil {
		fmt.Fprintf(tw, "fleet: %s\n", fleet.GPUsText(m.GPUs))
	}
	fmt.Fprintln(tw, "\nSUBJECT\tSTATE\tSEVERITY\tCONFIDENCE\tGPU-H AT STAKE\tSINCE\tWHAT TO DO")
	for _, g := range groups {
		f := g.Finding
		subj := string(f.Subject.Level) + " " + model.TerminalSafe(g.Subject)
		if g.Count > 1 {
			subj += fmt.Sprintf(" (%d pods)", g.Count)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t%s\t%s\n", subj, f.State, f.Severity, f.Confidence, g.GPUHours, f.Since.UTC().Format("15:04"), model.TerminalSafe(f.Action))
	}
	fmt.Fprintf(tw, "\n%d healthy subjects hidden\n", healthy)
	return tw.Flush()
}

// writeUtilisation prints the utilisation report: the fleet model's GPU
// counts, GPU-hours and money (the same as cost's for the window and price
// book) and the busy distribution and capacity.
func writeUtilisation(w io.Writer, r *diagnose.Report) error {
	u := r.Utilisation
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "fleet utilisation at %s over %s\n\n", r.At.UTC().Format(time.RFC3339), r.Window)
	if m := u.Fleet; m != nil {
		fmt.Fprintf(tw, "physical GPUs\t%s\n", fleet.GPUsText(m.GPUs))
		fmt.Fprintf(tw, "GPU-equivalents\t%.2f\n", m.GPUs.GPUEquivalents)
	}
	fmt.Fprintf(tw, "busy\t%.1f%%\n", u.MeanBusy*100)
	fmt.Fprintf(tw, "GPUs below %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[0]*100, u.BelowLowMean*100, u.BelowLowPeak*100)
	fmt.Fprintf(tw, "GPUs above %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[1]*100, u.AboveHighMean*100, u.AboveHighPeak*100)
	if m := u.Fleet; m != nil {
		fmt.Fprintln(tw, "\nQUANTITY\tGPU-HOURS\tMONEY")
		for _, q := range []struct {
			word  string
			hours float64
			money cost.Micros
		}{
			{"allocatable", m.Hours.Allocatable, m.Money.Allocatable}, {"reserved", m.Hours.Reserved, m.Money.Reserved},
			{"allocated", m.Hours.Allocated, m.Money.Allocated}, {"used", m.Hours.Used, m.Money.Used},
			{"idle", m.Hours.Idle, m.Money.Idle}, {"unused", m.Hours.Unused, m.Money.Unused},
		} {
			money := "unpriced"
			if m.Currency != "" {
				money = q.money.Format(m.Currency)
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%s\n", q.word, q.hours, money)
		}
		if m.Currency != "" {
			fmt.Fprintf(tw, "10 more points of busy would save\t\t%s\n", m.SavingsPer10Points.Format(m.Currency))
		}
		if m.UnpricedGPUHours > 0 {
			fmt.Fprintf(tw, "unpriced allocated GPU-hours\t%.1f\t%s\n", m.UnpricedGPUHours, strings.Join(m.Unpriced, "; "))
		}
	}
	fmt.Fprintln(tw, "\nMODEL\tHELD\tPEAK DEMAND\tMEAN BUSY\tNEEDED\tADVICE")
	for _, c := range r.Capacity {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f%%\t%d\t%s\n", c.Model, c.Held, c.PeakDemand, c.MeanBusy*100, c.Needed, c.Advice)
	}
	return tw.Flush()
}

package main

import (
	"context"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/cli"
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
		cluster  string
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
		addCluster(c, &o.cluster)
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

	run := func(ctx context.Context, o common, st app.Settings) (*diagnose.Report, error) {
		return app.Diagnose(ctx, app.DiagnoseOptions{Server: o.server, Cluster: o.cluster, Since: o.since, At: o.at, Recorded: o.recorded, Cost: st.Cost(), Thresholds: st.Thresholds, Objectives: st.Objectives})
	}
	return []command{
		fleet,
		{clause: diag, run: func(ctx context.Context) error {
			st, err := dOpts.set.resolve()
			if err != nil {
				return err
			}
			r, err := run(ctx, dOpts, st)
			if err != nil {
				return err
			}
			if output == "json" {
				return cli.WriteDiagnosisJSON(e.stdout, r)
			}
			return cli.WriteDiagnosis(e.stdout, r)
		}},
		{clause: util, run: func(ctx context.Context) error {
			st, err := uOpts.set.resolve()
			if err != nil {
				return err
			}
			r, err := run(ctx, uOpts, st)
			if err != nil {
				return err
			}
			if err := cli.WriteUtilisation(e.stdout, r); err != nil {
				return err
			}
			return app.WarnCoverage(ctx, e.stdout, uOpts.server, r.At, r.Window)
		}},
		{clause: rul, run: func(context.Context) error {
			st, err := rulSet.resolve()
			if err != nil {
				return err
			}
			b, err := app.AlertRules(st, interval)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}},
	}
}

package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/progress"
	"github.com/servescope/servescope/internal/present/web"
)

// reportFleetCommand is `report fleet`, the default of `report`: the
// self-contained fleet report (HTML or Markdown) over a window, fit to
// send, read from a running servescope or any Prometheus-compatible API.
func reportFleetCommand(rep *kingpin.CmdClause, e env) command {
	c := rep.Command("fleet", "Self-contained report (HTML or Markdown, with plots): are the GPUs used, why not, what to do, who pays. The default of report.").Default()
	var (
		o              app.ReportOptions
		format, output string
		set            settingsFlags
	)
	c.Flag("window", "Window reported on, ending at --at (24h, 7d).").Default("24h").SetValue(spanValue{&o.Window, "--window"})
	c.Flag("format", "html or md; default from the --output extension (.md: md), else html.").EnumVar(&format, web.FormatHTML, web.FormatMarkdown)
	c.Flag("output", "File to write; default stdout.").Short('o').StringVar(&output)
	c.Flag("server", "URL of a running servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&o.Server)
	c.Flag("at", "End of the window: RFC 3339, Unix seconds, a duration ago (-1h), now, today or yesterday; default now.").SetValue(timeValue{&o.At, "--at"})
	addSettings(c, &set, withTeamLabel|withPrices|withQueueTeams)
	addCluster(c, &o.Cluster)
	c.Flag("allow-partial", "Write the report even when some panels fail, under a visible \"partial\" banner (default: fail and write nothing).").BoolVar(&o.AllowPartial)
	c.Flag("recorded", "Read servescope's recorded series (the backend evaluates the catalog's rules).").BoolVar(&o.Recorded)
	return command{clause: c, run: func(ctx context.Context) error {
		st, err := set.resolve()
		if err != nil {
			return err
		}
		o.Cost, o.Thresholds, o.Objectives = st.Cost(), st.Thresholds, st.Objectives
		o.Format = format
		if o.Format == "" {
			o.Format = app.ReportFormat(output)
		}
		if err := reachable(ctx, o.Server); err != nil {
			return err
		}
		bar := progress.New(progress.Options{Writer: e.stderr, Label: "report " + model.Duration(o.Window).String(), Terminal: isTerminal(e.stderr)})
		o.Progress = bar.Count
		defer bar.Stop() // a failure starts on its own line
		n, err := app.WriteReportFile(ctx, e.stdout, output, o)
		if err != nil {
			return err
		}
		bar.Done()
		if output == "" {
			return nil
		}
		fmt.Fprintf(e.stderr, "wrote %s (%s, %d bytes)\n", output, o.Format, n)
		return nil
	}}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/app"
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
		at             string
		queueTeams     []string
	)
	c.Flag("window", "Window reported on, ending at --at (24h, 7d).").Default("24h").SetValue(durationValue{&o.Window})
	c.Flag("format", "html or md; default from the --output extension (.md: md), else html.").EnumVar(&format, web.FormatHTML, web.FormatMarkdown)
	c.Flag("output", "File to write; default stdout.").Short('o').StringVar(&output)
	c.Flag("server", "URL of a running servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&o.Server)
	c.Flag("at", "End of the window (RFC 3339); default now.").StringVar(&at)
	c.Flag("prices", "Price book (YAML), e.g. examples/scenarios/prices.yml; without it hours are unpriced.").StringVar(&o.Cost.PriceBook)
	c.Flag("team-label", "Pod and namespace label key naming the team (allowlisted in kube-state-metrics).").Default("team").StringVar(&o.Cost.TeamLabel)
	c.Flag("queue-team", "CLUSTERQUEUE=TEAM: a ClusterQueue's team when no pod or namespace label says (repeatable).").StringsVar(&queueTeams)
	c.Flag("allow-partial", "Write the report even when some panels fail, under a visible \"partial\" banner (default: fail and write nothing).").BoolVar(&o.AllowPartial)
	c.Flag("recorded", "Read servescope's recorded series (the backend evaluates the catalog's rules).").BoolVar(&o.Recorded)
	return command{clause: c, run: func(ctx context.Context) error {
		if at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--at %q: %w", at, err)
			}
			o.At = t
		}
		o.Cost.QueueTeams = map[string]string{}
		for _, qt := range queueTeams {
			q, t, ok := strings.Cut(qt, "=")
			if !ok || q == "" || t == "" {
				return fmt.Errorf("--queue-team %q: want CLUSTERQUEUE=TEAM", qt)
			}
			o.Cost.QueueTeams[q] = t
		}
		o.Format = format
		if o.Format == "" {
			o.Format = web.FormatHTML
			if ext := strings.ToLower(filepath.Ext(output)); ext == ".md" || ext == ".markdown" {
				o.Format = web.FormatMarkdown
			}
		}
		// The whole document is rendered before anything is written, so a
		// failure leaves no partial file.
		var buf bytes.Buffer
		if err := app.WriteReport(ctx, &buf, o); err != nil {
			return err
		}
		if output == "" {
			_, err := buf.WriteTo(e.stdout)
			return err
		}
		if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(e.stderr, "wrote %s (%s, %d bytes)\n", output, o.Format, buf.Len())
		return nil
	}}
}

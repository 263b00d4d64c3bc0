package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/present/web"
)

// ReportOptions configure `servescope report`.
type ReportOptions struct {
	// Server is the URL of a running servescope or any Prometheus-compatible
	// API.
	Server string
	// Window is the span reported on, ending at At.
	Window time.Duration
	// At is the end of the window; zero means now.
	At time.Time
	// Format is web.FormatHTML or web.FormatMarkdown.
	Format string
	// Cluster, if set, reports on that cluster only; otherwise every one.
	Cluster string
	// Recorded reads servescope's recorded series (the backend evaluates
	// the catalog's rules).
	Recorded bool
	// Cost names the team label, the price book and the queue → team map.
	Cost CostOptions
	// AllowPartial writes a report some of whose panels failed, under a
	// visible "partial" banner; without it the report fails instead.
	AllowPartial bool
	// Thresholds of the diagnosis; the zero value means the defaults.
	Thresholds diagnose.Thresholds
	// Objectives are the latency objectives whose error budgets and burn
	// rates the report shows (servescope.yml's objectives); none leaves
	// the panel out.
	Objectives slo.Set
	// Progress, when set, is told after each panel is read how many of how
	// many are done (web.ReportOptions.Progress).
	Progress func(done, total int)
	Logger   *slog.Logger
}

// WriteReport writes the self-contained fleet report (HTML or Markdown)
// over the window to w, reading o.Server: utilisation, findings, actions
// and capacity, cost per team, and the serving and GPU plots.
func WriteReport(ctx context.Context, w io.Writer, o ReportOptions) error {
	h, ro, err := reportHandler(o)
	if err != nil {
		return err
	}
	return h.Report(ctx, w, ro)
}

// ReadReport reads the fleet report's panels once (o.Format aside): the
// document it returns writes as HTML and as Markdown (web.ReportDoc.Write)
// without reading o.Server again.
func ReadReport(ctx context.Context, o ReportOptions) (*web.ReportDoc, error) {
	h, ro, err := reportHandler(o)
	if err != nil {
		return nil, err
	}
	return h.ReadReport(ctx, ro)
}

// reportHandler is the web handler reading o.Server for a report, and the
// report's options.
func reportHandler(o ReportOptions) (*web.Handler, web.ReportOptions, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	q, err := remote(o.Server, o.Cost, o.Cluster)
	if err != nil {
		return nil, web.ReportOptions{}, err
	}
	co := o.Cost
	co.Logger = logger
	calc, cat, _, err := newCost(co)
	if err != nil {
		return nil, web.ReportOptions{}, err
	}
	th := o.Thresholds
	if th == (diagnose.Thresholds{}) {
		th = diagnose.DefaultThresholds()
	}
	fv, err := newFleetView(q, cat, calc, th, o.Recorded, logger)
	if err != nil {
		return nil, web.ReportOptions{}, fmt.Errorf("report: %w", err)
	}
	wo := web.Options{
		Querier: q, Catalog: cat, Recorded: o.Recorded, Logger: logger,
		Findings: fv, Fleet: fv, Costs: fv, Queues: fv,
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
		Now:     func() time.Time { return at },
	}
	if len(o.Objectives.Objectives) > 0 {
		wo.Objectives = sloSource{q: q, cat: cat, set: o.Objectives}
	}
	h, err := web.New(wo)
	if err != nil {
		return nil, web.ReportOptions{}, fmt.Errorf("report: %w", err)
	}
	return h, web.ReportOptions{Window: o.Window, End: at, Format: o.Format, Source: redact(o.Server), AllowPartial: o.AllowPartial, Progress: o.Progress}, nil
}

// ReportFormat is the format of a report written to the file output when
// none is asked for: Markdown for .md and .markdown, else HTML.
func ReportFormat(output string) string {
	if ext := strings.ToLower(filepath.Ext(output)); ext == ".md" || ext == ".markdown" {
		return web.FormatMarkdown
	}
	return web.FormatHTML
}

// WriteReportFile writes the report to the file output, or to stdout when
// output is "", and returns its size. The whole document is rendered
// before anything is written, so a failure leaves no partial file.
func WriteReportFile(ctx context.Context, stdout io.Writer, output string, o ReportOptions) (int, error) {
	var buf bytes.Buffer
	if err := WriteReport(ctx, &buf, o); err != nil {
		return 0, err
	}
	n := buf.Len()
	if output == "" {
		_, err := buf.WriteTo(stdout)
		return n, err
	}
	if err := os.WriteFile(output, buf.Bytes(), 0o644); err != nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	return n, nil
}

// redact hides a password in the server URL the report names.
func redact(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

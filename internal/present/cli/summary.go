// Package cli holds servescope's human-readable terminal output: the
// one-screen summary that `make demo` prints, `servescope diagnose`'s
// tables (WriteDiagnosis: findings and capacity advice), and `servescope top`, a live
// per-pod table (rows read through the diagnoser, the refresh interval
// learned from the server's targets or config API). It reads only through
// the query.Querier, so every command works against the embedded server or
// an external Prometheus alike.
package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// summaryQueries are the summary's rows about the store itself: a label
// and a constant query, evaluated as written.
var summaryQueries = []struct {
	Label string
	Query string
}{
	{"targets up", `sum(up)`},
	{"targets down", `count(up == 0) or vector(0)`},
	{"series in store", `count({__name__=~".+"})`},
}

// summarySignals are the rows read from catalog signals, aggregated over
// every engine or queue the catalog knows.
var summarySignals = []struct {
	Label  string
	Signal string
	Op     parser.ItemType
	Unit   string
}{
	{"KV cache usage (max)", "kv_cache_usage_ratio", parser.MAX, "ratio"},
	{"Kueue pending workloads", "queue_pending_workloads", parser.SUM, ""},
}

// SummaryWindow is the span the summary's GPU-hours and busy cover,
// ending at now.
const SummaryWindow = 15 * time.Minute

// SummaryOptions are what the summary reads.
type SummaryOptions struct {
	Querier query.Querier
	// Fleet computes the fleet model (GPU counts, busy, serving totals):
	// the same figures as every other surface.
	Fleet *fleet.Calculator
	// Catalog gives the other signals' queries.
	Catalog *schema.Catalog
	// Cluster names the one cluster Querier is scoped to ("" for every
	// cluster): it heads the summary.
	Cluster string
}

// Summary writes a one-screen overview of what the store holds at now:
// the fleet model over the last SummaryWindow and the serving totals of
// every engine at now.
func Summary(ctx context.Context, w io.Writer, o SummaryOptions, now time.Time) error {
	// Nothing is written until every query answered: a failure prints the
	// error alone, not a header above it.
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "servescope summary at %s\n", now.UTC().Format(time.RFC3339))
	if o.Cluster != "" {
		fmt.Fprintf(tw, "  cluster\t%s\n", o.Cluster)
	}
	for _, row := range summaryQueries {
		res, err := o.Querier.Query(ctx, row.Query, now)
		if err != nil {
			return fmt.Errorf("summary %q: %w", row.Label, err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", row.Label, format(res.Value, ""))
	}
	m, err := o.Fleet.Compute(ctx, o.Querier, now.Add(-SummaryWindow), now, 0)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	fmt.Fprintf(tw, "  physical GPUs\t%s\n", fleet.GPUsText(m.GPUs))
	fmt.Fprintf(tw, "  GPU-equivalents\t%.2f\n", m.GPUs.GPUEquivalents)
	fmt.Fprintf(tw, "  busy (last %s)\t%.1f%%\n", model.Duration(SummaryWindow), m.Busy*100)
	fmt.Fprintf(tw, "  allocated / idle GPU-hours (last %s)\t%.2f / %.2f\n", model.Duration(SummaryWindow), m.Hours.Allocated, m.Hours.Idle)
	fmt.Fprintf(tw, "  requests running\t%.6g\n", m.Serving.RequestsRunning)
	fmt.Fprintf(tw, "  requests waiting\t%.6g\n", m.Serving.RequestsWaiting)
	fmt.Fprintf(tw, "  generation tokens/s\t%.6g\n", m.Serving.GenerationTokensPerSecond)
	// Several clusters: one line each, the same figures as --cluster's.
	per, err := o.Fleet.PerCluster(ctx, o.Querier, now.Add(-SummaryWindow), now, 0)
	if err != nil {
		return fmt.Errorf("summary per cluster: %w", err)
	}
	for _, c := range per {
		fmt.Fprintf(tw, "  cluster %s\t%s, busy %.1f%%, %.6g requests running, %.6g waiting, %.6g tokens/s\n",
			c.Cluster, fleet.GPUsText(c.GPUs), c.Busy*100, c.Serving.RequestsRunning, c.Serving.RequestsWaiting, c.Serving.GenerationTokensPerSecond)
	}
	p := parser.NewParser(parser.Options{})
	for _, row := range summarySignals {
		sq, err := o.Catalog.Select(row.Signal, false)
		if err != nil {
			return fmt.Errorf("summary %q: %w", row.Label, err)
		}
		e, err := p.ParseExpr(sq)
		if err != nil {
			return fmt.Errorf("summary %q: parse %q: %w", row.Label, sq, err)
		}
		res, err := o.Querier.Query(ctx, (&parser.AggregateExpr{Op: row.Op, Expr: e}).String(), now)
		if err != nil {
			return fmt.Errorf("summary %q: %w", row.Label, err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", row.Label, format(res.Value, row.Unit))
	}
	jobs, err := o.Querier.Query(ctx, `count by (job) (up)`, now)
	if err != nil {
		return fmt.Errorf("summary jobs: %w", err)
	}
	if v, ok := jobs.Value.(model.Vector); ok && len(v) > 0 {
		names := make([]string, 0, len(v))
		for _, s := range v {
			names = append(names, fmt.Sprintf("%s (%g)", s.Metric["job"], float64(s.Value)))
		}
		slices.Sort(names)
		fmt.Fprintf(tw, "  jobs\t%s\n", strings.Join(names, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = buf.WriteTo(w)
	return err
}

func format(v model.Value, unit string) string {
	vec, ok := v.(model.Vector)
	if !ok || len(vec) == 0 {
		return "-"
	}
	f := float64(vec[0].Value)
	if unit == "ratio" {
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return fmt.Sprintf("%.6g", f)
}

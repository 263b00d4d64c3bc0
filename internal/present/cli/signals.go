package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// WriteSignals lists the catalogs signals (`servescope signals`), only
// those of level when it is set.
func WriteSignals(w io.Writer, cat *schema.Catalog, level schema.Level) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNAL\tLEVEL\tKIND\tUNIT\tRECORDED AS\tSOURCES")
	for _, s := range cat.Signals() {
		if level != "" && s.Level != level {
			continue
		}
		var srcs []string
		for _, src := range s.Sources {
			if !slices.Contains(srcs, src.Exporter) {
				srcs = append(srcs, src.Exporter)
			}
		}
		if len(s.From) > 0 {
			srcs = append(srcs, "from "+strings.Join(s.From, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Level, s.Kind, s.Unit, s.RecordName(), strings.Join(srcs, ", "))
	}
	return tw.Flush()
}

// WriteExplain prints how a signal is produced (`servescope explain`):
// each source's written and compiled query, the combined query and the
// range check.
func WriteExplain(w io.Writer, cat *schema.Catalog, name string) error {
	s, err := cat.Signal(name)
	if err != nil {
		return fmt.Errorf("%w (see `servescope signals`)", err)
	}
	srcs, err := cat.Explain(name)
	if err != nil {
		return err
	}
	q, err := cat.Query(name)
	if err != nil {
		return err
	}
	chk, err := cat.RangeCheck(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s\n", s.Name, s.Help)
	fmt.Fprintf(w, "level %s by (%s), kind %s, unit %s, recorded as %s\n", s.Level, strings.Join(s.By(), ", "), s.Kind, s.Unit, s.RecordName())
	for i, sq := range srcs {
		fmt.Fprintf(w, "\nsource %d: %s %s\n", i+1, sq.Source.Exporter, sq.Source.Versions)
		if sq.Source.Note != "" {
			fmt.Fprintf(w, "  note:    %s\n", sq.Source.Note)
		}
		written := sq.Source.Expr
		if sq.Source.Denominator != "" {
			written += "  /  " + sq.Source.Denominator
		}
		fmt.Fprintf(w, "  written: %s\n  query:   %s\n", written, sq.Query)
	}
	if len(s.From) > 0 {
		fmt.Fprintf(w, "\nrolled up through the topology join from %s (the first with data wins per team)\n", strings.Join(s.From, ", else "))
	}
	fmt.Fprintf(w, "\ncombined (per subject the first source with data wins; labels aliased, followers dropped):\n  %s\n", q)
	if chk != "" {
		fmt.Fprintf(w, "\nrange check %s (series outside %s, values unchanged):\n  %s\n", schema.OutOfRangeName(name), rangeText(s.Range), chk)
	}
	return nil
}

func rangeText(r *schema.Range) string {
	return fmt.Sprintf("[%g, %g]", r.Min, r.Max)
}

// WriteUnmatched lists the active targets whose metric names (over the
// hour before now) the catalog does not recognise (`servescope signals
// --unmatched`). It uses only the Prometheus HTTP API (/api/v1/targets and
// /api/v1/label/__name__/values), so it works against servescope or any
// Prometheus-compatible server.
func WriteUnmatched(ctx context.Context, w io.Writer, cat *schema.Catalog, st query.Status, q query.Querier, now time.Time) error {
	targets, err := st.Targets(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tINSTANCE\tHEALTH\tFAMILIES\tSERIES SENT/KEPT\tSCRAPE URL")
	unmatched := 0
	for _, t := range targets {
		job, instance := string(t.Labels["job"]), string(t.Labels["instance"])
		names, err := q.LabelValues(ctx, "__name__", []string{selector(job, instance)}, now.Add(-time.Hour), now)
		if err != nil {
			return err
		}
		if cat.Recognize(names).Recognized() {
			continue
		}
		unmatched++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", job, instance, t.Health, len(names), sentKept(t), t.ScrapeURL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d of %d targets unrecognised (scraped; no signal reads them, so servescope stores only what servescope.keep_metrics keeps)\n", unmatched, len(targets))
	return nil
}

// selector is the series selector of one target. It is a matcher string for
// the API's match[] parameter, not a query; values are quoted as JSON
// strings, whose escapes PromQL string literals accept.
func selector(job, instance string) string {
	return "{job=" + quote(job) + ",instance=" + quote(instance) + "}"
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// sentKept shows a target's series as sent and as stored ("-" when the
// server does not tell them).
func sentKept(t query.Target) string {
	if t.SeriesScraped == nil || t.SeriesKept == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d", *t.SeriesScraped, *t.SeriesKept)
}

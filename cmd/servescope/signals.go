package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// signalsCommands are `signals` (list the catalog, or the targets it does not
// recognise), `explain SIGNAL` (the query of each source) and `rules` (the
// recording rules for an external Prometheus).
func signalsCommands(a *kingpin.Application, e env) []command {
	sig := a.Command("signals", "List the signal catalog, or with --unmatched the targets it does not recognise.")
	var (
		unmatched bool
		server    string
		level     string
	)
	sig.Flag("unmatched", "List the targets of a running server whose exporter the catalog does not recognise.").BoolVar(&unmatched)
	sig.Flag("server", "URL of a running servescope (or any Prometheus-compatible API) for --unmatched.").Default("http://127.0.0.1:9464").StringVar(&server)
	sig.Flag("level", "Only signals of this level: pod, gpu, queue, namespace, team.").EnumVar(&level, "pod", "gpu", "queue", "namespace", "team")

	exp := a.Command("explain", "Print, for each source, the query that produces a signal.")
	var name string
	exp.Arg("signal", "Signal name, as listed by `servescope signals`.").Required().StringVar(&name)

	rul := a.Command("rules", "Write the catalog's recording rules (a Prometheus rules file) to stdout.")
	var interval time.Duration
	rul.Flag("interval", "Evaluation interval of the rule groups.").Default("30s").SetValue(durationValue{&interval})

	var set settingsFlags
	for _, c := range []*kingpin.CmdClause{sig, exp, rul} {
		addSettings(c, &set, withTeamLabel)
	}
	catalog := func() (*schema.Catalog, error) {
		st, err := set.resolve()
		if err != nil {
			return nil, err
		}
		return schema.New(schema.Options{TeamLabel: st.TeamLabel})
	}

	return []command{
		{clause: sig, run: func(ctx context.Context) error {
			cat, err := catalog()
			if err != nil {
				return err
			}
			if unmatched {
				return listUnmatched(ctx, e.stdout, cat, server)
			}
			return listSignals(e.stdout, cat, schema.Level(level))
		}},
		{clause: exp, run: func(context.Context) error {
			cat, err := catalog()
			if err != nil {
				return err
			}
			return explain(e.stdout, cat, name)
		}},
		{clause: rul, run: func(context.Context) error {
			cat, err := catalog()
			if err != nil {
				return err
			}
			b, err := cat.RulesFile(interval)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}},
	}
}

func listSignals(w io.Writer, cat *schema.Catalog, level schema.Level) error {
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

func explain(w io.Writer, cat *schema.Catalog, name string) error {
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

// listUnmatched asks a running server for its active targets and, for each,
// the metric names it exposes, and lists those the catalog does not
// recognise. It uses only the Prometheus HTTP API (/api/v1/targets and
// /api/v1/label/__name__/values) through query.Remote, so it works against
// servescope or any Prometheus-compatible server.
func listUnmatched(ctx context.Context, w io.Writer, cat *schema.Catalog, server string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	remote, err := query.NewRemote(strings.TrimRight(server, "/"))
	if err != nil {
		return err
	}
	targets, err := remote.Targets(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tINSTANCE\tHEALTH\tFAMILIES\tSCRAPE URL")
	unmatched := 0
	now := time.Now()
	for _, t := range targets {
		job, instance := string(t.Labels["job"]), string(t.Labels["instance"])
		names, err := remote.LabelValues(ctx, "__name__", []string{selector(job, instance)}, now.Add(-time.Hour), now)
		if err != nil {
			return err
		}
		if cat.Recognize(names).Recognized() {
			continue
		}
		unmatched++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", job, instance, t.Health, len(names), t.ScrapeURL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d of %d targets unrecognised (kept and stored; no signal reads them)\n", unmatched, len(targets))
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

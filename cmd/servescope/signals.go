package main

import (
	"context"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/cli"
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

	rul := a.Command("rules", "Write the catalog's recording rules and the latency objectives' rules and burn-rate alerts (a Prometheus rules file) to stdout.")
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
		return app.Catalog(st)
	}

	return []command{
		{clause: sig, run: func(ctx context.Context) error {
			cat, err := catalog()
			if err != nil {
				return err
			}
			if unmatched {
				return app.WriteUnmatched(ctx, e.stdout, server, cat)
			}
			return cli.WriteSignals(e.stdout, cat, schema.Level(level))
		}},
		{clause: exp, run: func(context.Context) error {
			cat, err := catalog()
			if err != nil {
				return err
			}
			return cli.WriteExplain(e.stdout, cat, name)
		}},
		{clause: rul, run: func(context.Context) error {
			st, err := set.resolve()
			if err != nil {
				return err
			}
			b, err := app.RulesFile(st, interval)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}},
	}
}

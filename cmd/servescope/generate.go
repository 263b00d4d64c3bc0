package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/present/gen"
	"github.com/servescope/servescope/internal/schema"
)

// generateOptions are the flags of `generate`.
type generateOptions struct {
	out       string
	teamsFile string
	noAlerts  bool
	// monitorLabels, when any are given, replace gen's default.
	monitorLabels map[string]string
	gen           gen.Options
	set           settingsFlags
	// thresholds are the diagnosis alerts' (the config's, else defaults).
	thresholds diagnose.Thresholds
}

// generateCommands is `generate --out DIR`: the Kubernetes observability
// stack (dashboards, rules, monitors, scrape config, Helm values, Kueue
// queues) generated from the catalog, the diagnosis alerts and a teams file.
func generateCommands(a *kingpin.Application, e env) []command {
	c := a.Command("generate", "Write the Kubernetes observability stack (Grafana dashboards, rules, monitors, scrape config, Helm values, Kueue queues) to a directory.")
	o := generateOptions{monitorLabels: map[string]string{}}
	c.Flag("out", "Output directory; created if missing, generated files are overwritten.").Required().StringVar(&o.out)
	c.Flag("teams", "Teams file (YAML) for the per-team ClusterQueues, LocalQueues and ResourceFlavors; see examples/teams.yml.").StringVar(&o.teamsFile)
	addSettings(c, &o.set, withTeamLabel)
	c.Flag("rule-interval", "Evaluation interval of the rule groups.").Default("30s").SetValue(durationValue{&o.gen.RuleInterval})
	c.Flag("raw-queries", "Dashboards query raw exporter series instead of servescope's recorded series.").BoolVar(&o.gen.RawQueries)
	c.Flag("namespace", "Namespace of the monitors and the PrometheusRule.").Default("monitoring").StringVar(&o.gen.Namespace)
	c.Flag("dcgm-namespace", "Namespace dcgm-exporter runs in.").Default("gpu-operator").StringVar(&o.gen.DCGMNamespace)
	c.Flag("kueue-namespace", "Namespace of Kueue's controller.").Default("kueue-system").StringVar(&o.gen.KueueNamespace)
	c.Flag("monitor-label", "Label (KEY=VALUE, repeatable) on every ServiceMonitor, PodMonitor and PrometheusRule, for the Prometheus operator's selectors; kube-prometheus-stack selects release=<its Helm release name>. Default release=kube-prometheus-stack.").
		PlaceHolder("KEY=VALUE").StringMapVar(&o.monitorLabels)
	c.Flag("no-alerts", "Leave the diagnosis alerting rules out of the rules.").BoolVar(&o.noAlerts)
	return []command{{clause: c, run: func(context.Context) error {
		st, err := o.set.resolve()
		if err != nil {
			return err
		}
		o.gen.TeamLabel, o.thresholds = st.TeamLabel, st.Thresholds
		files, err := generate(o)
		if err != nil {
			return err
		}
		if err := writeFiles(o.out, files); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %d files to %s\n", len(files), o.out)
		return nil
	}}}
}

// generate reads the inputs and produces every file; nothing is written.
func generate(o generateOptions) (gen.Files, error) {
	cat, err := schema.New(schema.Options{TeamLabel: o.gen.TeamLabel})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	in := gen.Input{Catalog: cat, Options: o.gen}
	if len(o.monitorLabels) > 0 {
		in.Options.MonitorLabels = o.monitorLabels
	}
	if o.teamsFile != "" {
		content, err := os.ReadFile(o.teamsFile)
		if err != nil {
			return nil, fmt.Errorf("read teams file: %w", err)
		}
		if in.Teams, err = gen.ParseTeams(o.teamsFile, content); err != nil {
			return nil, err
		}
	}
	if !o.noAlerts {
		interval := o.gen.RuleInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		th := o.thresholds
		if th == (diagnose.Thresholds{}) {
			th = diagnose.DefaultThresholds()
		}
		alerts, err := diagnose.ExternalAlertRules(cat, th, interval)
		if err != nil {
			return nil, fmt.Errorf("alerting rules: %w", err)
		}
		in.Alerts = alerts.Groups
	}
	return gen.Generate(in)
}

// writeFiles writes every file under dir, creating directories.
func writeFiles(dir string, files gen.Files) error {
	for _, p := range files.Paths() {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.WriteFile(path, files[p], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/progress"
)

// generateCommands is `generate --out DIR`: the Kubernetes observability
// stack (dashboards, rules, monitors, scrape config, Helm values, Kueue
// queues) generated from the catalog, the diagnosis alerts and a teams file.
func generateCommands(a *kingpin.Application, e env) []command {
	c := a.Command("generate", "Write the Kubernetes observability stack (Grafana dashboards, rules, monitors, scrape config, Helm values, Kueue queues) to a directory.")
	o := app.GenerateOptions{MonitorLabels: map[string]string{}}
	var set settingsFlags
	c.Flag("out", "Output directory; created if missing, generated files are overwritten.").Required().StringVar(&o.Out)
	c.Flag("teams", "Teams file (YAML) for the per-team ClusterQueues, LocalQueues and ResourceFlavors; see examples/teams.yml.").StringVar(&o.TeamsFile)
	addSettings(c, &set, withTeamLabel)
	c.Flag("rule-interval", "Evaluation interval of the rule groups.").Default("30s").SetValue(durationValue{&o.Gen.RuleInterval})
	c.Flag("raw-queries", "Dashboards query raw exporter series instead of servescope's recorded series.").BoolVar(&o.Gen.RawQueries)
	c.Flag("namespace", "Namespace of the monitors and the PrometheusRule.").Default("monitoring").StringVar(&o.Gen.Namespace)
	c.Flag("dcgm-namespace", "Namespace dcgm-exporter runs in.").Default("gpu-operator").StringVar(&o.Gen.DCGMNamespace)
	c.Flag("kueue-namespace", "Namespace of Kueue's controller.").Default("kueue-system").StringVar(&o.Gen.KueueNamespace)
	c.Flag("monitor-label", "Label (KEY=VALUE, repeatable) on every ServiceMonitor, PodMonitor and PrometheusRule, for the Prometheus operator's selectors; kube-prometheus-stack selects release=<its Helm release name>. Given, they replace the config's monitor_labels; default release=kube-prometheus-stack.").
		PlaceHolder("KEY=VALUE").StringMapVar(&o.MonitorLabels)
	c.Flag("no-alerts", "Leave the diagnosis alerting rules out of the rules.").BoolVar(&o.NoAlerts)
	return []command{{clause: c, run: func(context.Context) error {
		st, err := set.resolve()
		if err != nil {
			return err
		}
		o.Gen.TeamLabel, o.Thresholds, o.ClusterLabel = st.TeamLabel, st.Thresholds, st.ClusterLabel
		o.Objectives = st.Objectives
		if len(o.MonitorLabels) == 0 {
			o.MonitorLabels = st.MonitorLabels
		}
		bar := progress.New(progress.Options{Writer: e.stderr, Label: "generate " + o.Out, Terminal: isTerminal(e.stderr)})
		o.Progress = bar.Count
		defer bar.Stop() // a failure starts on its own line
		n, err := app.Generate(o)
		if err != nil {
			return err
		}
		bar.Done()
		fmt.Fprintf(e.stdout, "wrote %d files to %s\n", n, o.Out)
		return nil
	}}}
}

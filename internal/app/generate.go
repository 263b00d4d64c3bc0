package app

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/present/gen"
	"github.com/servescope/servescope/internal/schema"
)

// GenerateOptions configure `servescope generate`.
type GenerateOptions struct {
	// Out is the directory written; created if missing.
	Out string
	// TeamsFile is the teams file (YAML) for the Kueue manifests; "" for none.
	TeamsFile string
	// NoAlerts leaves the diagnosis alerting rules out.
	NoAlerts bool
	// MonitorLabels, when any are given, replace gen's default.
	MonitorLabels map[string]string
	// Gen tunes the output; Gen.TeamLabel names the team label.
	Gen gen.Options
	// ClusterLabel is the external label the generated rules keep
	// (servescope.yml's cluster_label; default cluster).
	ClusterLabel string
	// Thresholds of the diagnosis alerts; the zero value means the defaults.
	Thresholds diagnose.Thresholds
	// Objectives add the latency objectives' recording rules and
	// burn-rate alerts to the rules file and the PrometheusRule.
	Objectives slo.Set
	// Progress, when set, is told after each step (generating each part,
	// then writing) how many of how many are done.
	Progress func(done, total int)
}

// Generate produces the Kubernetes observability stack and writes it
// under o.Out; it returns how many files it wrote. Nothing is written when
// an input is wrong.
func Generate(o GenerateOptions) (int, error) {
	total := 0
	if report := o.Progress; report != nil {
		o.Progress = func(done, all int) { total = all; report(done, all) }
	}
	files, err := GenerateFiles(o)
	if err != nil {
		return 0, err
	}
	if err := WriteFiles(o.Out, files); err != nil {
		return 0, err
	}
	if o.Progress != nil {
		o.Progress(total, total)
	}
	return len(files), nil
}

// GenerateFiles reads the inputs and produces every file; nothing is
// written. The progress counts one step more than gen's, the writing.
func GenerateFiles(o GenerateOptions) (gen.Files, error) {
	cat, err := schema.New(schema.Options{TeamLabel: o.Gen.TeamLabel, ClusterLabel: o.ClusterLabel})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	in := gen.Input{Catalog: cat, Options: o.Gen}
	if o.Progress != nil {
		in.Progress = func(done, total int) { o.Progress(done, total+1) }
	}
	if len(o.MonitorLabels) > 0 {
		in.Options.MonitorLabels = o.MonitorLabels
	}
	if o.TeamsFile != "" {
		content, err := os.ReadFile(o.TeamsFile)
		if err != nil {
			return nil, fmt.Errorf("read teams file: %w", err)
		}
		if in.Teams, err = gen.ParseTeams(o.TeamsFile, content); err != nil {
			return nil, err
		}
	}
	if !o.NoAlerts {
		interval := o.Gen.RuleInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		th := o.Thresholds
		if th == (diagnose.Thresholds{}) {
			th = diagnose.DefaultThresholds()
		}
		alerts, err := diagnose.ExternalAlertRules(cat, th, interval)
		if err != nil {
			return nil, fmt.Errorf("alerting rules: %w", err)
		}
		in.Alerts = alerts.Groups
	}
	if len(o.Objectives.Objectives) > 0 {
		interval := o.Gen.RuleInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		groups, err := slo.RuleGroups(cat, o.Objectives, interval)
		if err != nil {
			return nil, fmt.Errorf("latency objectives: %w", err)
		}
		in.Alerts = append(in.Alerts, groups.Groups...)
	}
	return gen.Generate(in)
}

// WriteFiles writes every file under dir, creating directories.
func WriteFiles(dir string, files gen.Files) error {
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

package gen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

// Files maps a slash-separated path relative to the output directory to the
// file's content.
type Files map[string][]byte

// Paths returns the file paths in sorted order.
func (f Files) Paths() []string { return slices.Sorted(maps.Keys(f)) }

// add stores one file, refusing a path generated twice (a programmer error
// that would silently drop output).
func (f Files) add(path string, content []byte) error {
	if _, ok := f[path]; ok {
		return fmt.Errorf("file %q generated twice", path)
	}
	f[path] = content
	return nil
}

// Options configures the generated stack. The zero value of every field
// means its documented default.
type Options struct {
	// RuleInterval is the evaluation interval of the rule groups. Default 30s.
	RuleInterval time.Duration
	// RawQueries makes dashboard panels query raw exporter series through
	// the catalog's full queries instead of servescope's recorded series;
	// use it when the rules are not loaded into the Prometheus behind Grafana.
	RawQueries bool
	// Namespace is where the monitors and the PrometheusRule are created.
	// Default "monitoring".
	Namespace string
	// MonitorLabels are put on every ServiceMonitor, PodMonitor and
	// PrometheusRule so the Prometheus operator selects them: they must
	// match its serviceMonitorSelector, podMonitorSelector and
	// ruleSelector. kube-prometheus-stack selects release=<its Helm release
	// name>. Default (nil) release=kube-prometheus-stack.
	MonitorLabels map[string]string
	// TeamLabel is the namespace (and pod) label naming the owning team; it
	// must match the catalog's. Default "team".
	TeamLabel string
	// DCGMNamespace is the namespace dcgm-exporter runs in. Default
	// "gpu-operator".
	DCGMNamespace string
	// KueueNamespace is the namespace of Kueue's controller. Default
	// "kueue-system".
	KueueNamespace string
}

func (o Options) withDefaults() Options {
	if o.RuleInterval <= 0 {
		o.RuleInterval = 30 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = "monitoring"
	}
	if o.MonitorLabels == nil {
		o.MonitorLabels = map[string]string{"release": "kube-prometheus-stack"}
	}
	if o.TeamLabel == "" {
		o.TeamLabel = "team"
	}
	if o.DCGMNamespace == "" {
		o.DCGMNamespace = "gpu-operator"
	}
	if o.KueueNamespace == "" {
		o.KueueNamespace = "kueue-system"
	}
	return o
}

// Input is everything the stack is generated from.
type Input struct {
	// Catalog provides the queries and recording rules. Required.
	Catalog *schema.Catalog
	// Alerts are alerting rule groups (e.g. from the diagnosis package),
	// written after the catalog's recording rules; nil writes none.
	Alerts []rulefmt.RuleGroup
	// Teams, if set, adds per-team Kueue manifests (see ParseTeams).
	Teams *Teams
	// Options tune the output.
	Options Options
	// Progress, when set, is told after each step (dashboards, rules,
	// monitors, ...) how many of how many are done.
	Progress func(done, total int)
}

// Generate produces every file of the stack. It either returns all files or
// an error; it never returns a partial set.
func Generate(in Input) (Files, error) {
	if in.Catalog == nil {
		return nil, errors.New("generate: no catalog")
	}
	o := in.Options.withDefaults()
	if errs := validation.IsQualifiedName(o.TeamLabel); len(errs) > 0 {
		return nil, fmt.Errorf("generate: team label %q: %s", o.TeamLabel, strings.Join(errs, "; "))
	}
	if err := config.CheckLabels(o.MonitorLabels); err != nil {
		return nil, fmt.Errorf("generate: monitor labels: %w", err)
	}
	files := Files{}
	steps := []struct {
		name string
		run  func() error
	}{
		{"dashboards", func() error { return dashboards(files, in.Catalog, o) }},
		{"rules", func() error { return rules(files, in.Catalog, in.Alerts, o) }},
		{"monitors", func() error { return monitors(files, o) }},
		{"scrape config", func() error { return writeScrapeConfig(files, o) }},
		{"helm values", func() error { return helmValues(files, o) }},
		{"kueue", func() error { return kueueFiles(files, in.Teams, o) }},
	}
	for i, s := range steps {
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("generate %s: %w", s.name, err)
		}
		if in.Progress != nil {
			in.Progress(i+1, len(steps))
		}
	}
	return files, nil
}

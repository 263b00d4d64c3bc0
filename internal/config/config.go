// Package config loads servescope.yml. The file is a Prometheus
// configuration (global, scrape_configs with static, file and Kubernetes
// discovery, relabelling and per-job limits, rule_files) read by
// Prometheus's own config package, plus an optional top-level `servescope:`
// section for what Prometheus has no place for. Every error names the file
// and, where it can be found, the line.
//
// It imports Prometheus's config package and the discovery mechanisms the
// file may use; nothing above the config layer.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/relabel"
	// The discovery mechanisms servescope accepts register their YAML
	// blocks with Prometheus's config package when linked.
	_ "github.com/prometheus/prometheus/discovery/file"
	_ "github.com/prometheus/prometheus/discovery/kubernetes"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/servescope/servescope/internal/located"
)

// ExtensionKey is the top-level key of servescope's own section.
const ExtensionKey = "servescope"

// Config is a loaded servescope.yml.
type Config struct {
	// File is the path the config was read from.
	File string
	// Prometheus is the Prometheus part, as prometheus/config loaded it.
	Prometheus *promconfig.Config
	// Servescope is the `servescope:` section.
	Servescope Extension
	// Empty is set when the file holds no settings at all (empty, or
	// comments only): valid, but a reload must not apply it.
	Empty bool
}

// Extension is the `servescope:` section. Unknown keys are refused.
type Extension struct {
	// TeamLabel is the label naming a namespace's or pod's owning team, as
	// kube-state-metrics exposes it with label_ prepended (default team).
	TeamLabel string `yaml:"team_label"`
	// ClusterLabel is the external label naming the cluster each series
	// comes from when many clusters send to one backend (default cluster);
	// the catalog keeps it through every aggregation and join.
	ClusterLabel string `yaml:"cluster_label"`
	// PriceBook is the path of the GPU price book (relative to the config
	// file); empty leaves GPU-hours unpriced.
	PriceBook string `yaml:"price_book"`
	// QueueTeams maps Kueue ClusterQueues to teams, the last resort of team
	// resolution.
	QueueTeams map[string]string `yaml:"queue_teams"`
	// TenantTeams maps an inference gateway's tenant (llm-d's fairness_id)
	// to the team that pays for its requests; a tenant it does not list
	// belongs to no team.
	TenantTeams map[string]string `yaml:"tenant_teams"`
	// CarbonIntensity is the grid's g CO2e per kWh: cost shows the
	// emissions of each team's GPU energy with it; 0 (unset) shows none.
	CarbonIntensity float64 `yaml:"carbon_intensity"`
	// ReferencePrices are per served model reference prices per million
	// input and output tokens, shown beside the cost per million tokens.
	ReferencePrices []ReferencePrice `yaml:"reference_prices"`
	// LentQuotaIsIdle keeps the Kueue nominal quota a team lent to its
	// cohort in the team's idle quota cost; false (the default) takes the
	// lent hours out, as the borrower used and pays them.
	LentQuotaIsIdle bool `yaml:"lent_quota_is_idle"`
	// MonitorLabels are the labels `generate` puts on every ServiceMonitor,
	// PodMonitor and PrometheusRule for the Prometheus operator's selectors
	// (kube-prometheus-stack selects release=<its Helm release name>);
	// empty keeps generate's default, release=kube-prometheus-stack.
	MonitorLabels map[string]string `yaml:"monitor_labels"`
	// KeepMetrics are regular expressions of metric names (anchored, as in
	// relabelling) to store beside the families servescope reads; every
	// other scraped series (`_created` series, runtime families, exporter
	// families no view reads) is dropped at scrape time.
	KeepMetrics []string `yaml:"keep_metrics"`
	// KeepAllMetrics stores every scraped series, as Prometheus does.
	KeepAllMetrics bool `yaml:"keep_all_metrics"`
	// KeepClassicHistograms stores classic histograms as exposed, a series
	// per bucket (x_bucket, x_sum, x_count), as Prometheus does by
	// default. Unset (false), each is stored as one native histogram with
	// custom buckets (convert_classic_histograms_to_nhcb, on by default in
	// servescope); a job's or the global convert_classic_histograms_to_nhcb
	// written in the file wins either way.
	KeepClassicHistograms bool `yaml:"keep_classic_histograms"`
	// Diagnosis overrides the diagnosis thresholds; the diagnosis package
	// owns their schema and decodes this node with DecodeSection.
	Diagnosis yaml.Node `yaml:"diagnosis"`
	// Objectives are the latency objectives (SLOs): their error budgets,
	// burn rates and multi-window burn-rate alerts.
	Objectives []Objective `yaml:"objectives"`
	// SLOMinRequestRate is the requests per second a model must receive
	// over the last hour for its burn-rate alerts to fire, so a
	// handful of slow requests on an idle model pages no one; 0 (unset)
	// takes DefaultSLOMinRequestRate.
	SLOMinRequestRate float64 `yaml:"slo_min_request_rate"`
}

// DefaultSLOMinRequestRate is the burn-rate alerts' minimum request rate
// (requests per second over the last hour) when the config sets none.
const DefaultSLOMinRequestRate = 0.1

// CheckLabels validates Kubernetes labels (monitor selector labels): each
// key a qualified name, each value a valid label value.
func CheckLabels(m map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			errs = append(errs, fmt.Errorf("key %q: %s", k, strings.Join(e, "; ")))
		}
		if e := validation.IsValidLabelValue(m[k]); len(e) > 0 {
			errs = append(errs, fmt.Errorf("%s=%q: %s", k, m[k], strings.Join(e, "; ")))
		}
	}
	return errors.Join(errs...)
}

// DecodeSection decodes one node of the servescope section strictly into
// out (unknown keys refused), reporting errors at their line in the file.
func (c *Config) DecodeSection(name string, node *yaml.Node, out any) error {
	if node == nil || node.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(node)
	if err != nil {
		return &Error{File: c.File, Line: node.Line, Reason: fmt.Sprintf("%s: %v", name, err)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		// The node re-encodes one key per line from its first line on.
		located := yamlErrors(c.File, err, nil, section{name: "the " + name + " section", typ: reflect.TypeOf(out)})
		var e *Error
		if errors.As(located, &e) && e.Line > 0 {
			e.Line += node.Line - 1
			e.Reason = name + ": " + e.Reason
			return e
		}
		return &Error{File: c.File, Line: node.Line, Reason: fmt.Sprintf("%s: %v", name, err)}
	}
	return nil
}

// LocateIn places the errors of validating a section decoded from node
// (errors.Join'ed ones one by one) at the line of the key each names, or
// at the section when it names none.
func (c *Config) LocateIn(node *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out Errors
	for _, e := range errs {
		line := 0
		if node != nil {
			line = node.Line
			if l := findKey(node, e.Error()); l > 0 {
				line = l
			}
		}
		out = append(out, &Error{File: c.File, Line: line, Reason: e.Error()})
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// Error is a config error located in its file (the project's one
// located-error type, defined in the leaf package located).
type Error = located.Error

// Errors is every error found in one file.
type Errors = located.Errors

// LoadFile reads and validates the config at path.
func LoadFile(path string, logger *slog.Logger) (*Config, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(path, content, logger)
	if err != nil {
		return nil, err
	}
	cfg.Prometheus.SetDirectory(filepath.Dir(path))
	if p := cfg.Servescope.PriceBook; p != "" && !filepath.IsAbs(p) {
		cfg.Servescope.PriceBook = filepath.Join(filepath.Dir(path), p)
	}
	return cfg, nil
}

// Parse validates content as the config named name (used in errors).
func Parse(name string, content []byte, logger *slog.Logger) (*Config, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(content, &root); err != nil {
		return nil, yamlErrors(name, err, nil)
	}
	cfg := &Config{File: name, Empty: len(root.Content) == 0}
	rest, ext, err := split(content, &root)
	if err != nil {
		return nil, &Error{File: name, Line: ext.Line, Reason: err.Error()}
	}
	if ext != nil {
		// Decode the whole file so errors keep their lines; the inline map
		// takes Prometheus's keys, and the section itself is strict.
		var doc struct {
			Servescope Extension            `yaml:"servescope"`
			Rest       map[string]yaml.Node `yaml:",inline"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(content))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			return nil, yamlErrors(name, err, &root)
		}
		cfg.Servescope = doc.Servescope
		if l := cfg.Servescope.ClusterLabel; l != "" && !model.LegacyValidation.IsValidLabelName(l) {
			return nil, &Error{File: name, Line: findKey(ext, "cluster_label"), Reason: fmt.Sprintf("cluster_label %q: not a valid label name", l)}
		}
		if ci := cfg.Servescope.CarbonIntensity; ci < 0 || math.IsNaN(ci) || math.IsInf(ci, 0) {
			return nil, &Error{File: name, Line: findKey(ext, "carbon_intensity"), Reason: fmt.Sprintf("carbon_intensity %v: want g CO2e per kWh, a finite number ≥ 0", ci)}
		}
		if err := checkMonitorLabels(name, ext, cfg.Servescope.MonitorLabels); err != nil {
			return nil, err
		}
		if err := checkKeepMetrics(name, ext, cfg.Servescope.KeepMetrics); err != nil {
			return nil, err
		}
		if err := checkReferencePrices(name, ext, cfg.Servescope.ReferencePrices); err != nil {
			return nil, err
		}
		if err := checkObjectives(name, ext, cfg.Servescope.Objectives, cfg.Servescope.SLOMinRequestRate); err != nil {
			return nil, err
		}
	}
	pc, err := promconfig.Load(string(rest), logger)
	if err != nil {
		return nil, locate(name, &root, err)
	}
	applyDefaultLimits(&root, pc)
	applyNHCBDefault(&root, pc, cfg.Servescope.ConvertsToNHCB())
	// Many exporters answer with a generic Content-Type; Prometheus 3
	// refuses those unless a fallback is set. servescope reads them as the
	// text format unless the job says otherwise.
	for _, sc := range pc.ScrapeConfigs {
		if sc.ScrapeFallbackProtocol == "" {
			sc.ScrapeFallbackProtocol = promconfig.PrometheusText0_0_4
		}
	}
	cfg.Prometheus = pc
	return cfg, nil
}

// split blanks out the servescope section, keeping line numbers, so that
// Prometheus's strict loader sees only its own keys.
func split(content []byte, root *yaml.Node) ([]byte, *yaml.Node, error) {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return content, nil, nil
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != ExtensionKey {
			continue
		}
		first := k.Line
		last := -1 // through the end of the file
		if i+2 < len(top.Content) {
			last = top.Content[i+2].Line - 1
		}
		if top.Style&yaml.FlowStyle != 0 {
			return nil, k, errors.New("the servescope section needs block style, not a flow mapping")
		}
		lines := bytes.SplitAfter(content, []byte("\n"))
		for l := first - 1; l < len(lines) && (last < 0 || l < last); l++ {
			if strings.HasPrefix(strings.TrimSpace(string(lines[l])), "#") {
				continue
			}
			lines[l] = []byte("\n")
		}
		var out bytes.Buffer
		for _, l := range lines {
			out.Write(l)
		}
		return out.Bytes(), v, nil
	}
	return content, nil, nil
}

var (
	yamlLine = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)
	jobName  = regexp.MustCompile(`job name "([^"]*)"`)
)

// yamlErrors turns YAML errors ("line N: ...") into located errors.
// Unknown keys are named with the section they are in and the nearest
// known key, never the Go type.
// root, when known, places keys the error names by a type shared by many
// sections (Prometheus's "plain").
func yamlErrors(name string, err error, root *yaml.Node, extra ...section) error {
	var out Errors
	for _, line := range strings.Split(err.Error(), "\n") {
		if m := yamlLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1]) // the regexp matched digits
			out = append(out, &Error{File: name, Line: n, Reason: friendly(m[2], sectionAt(root, n), extra...)})
		}
	}
	if len(out) == 0 {
		return &Error{File: name, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// locate places a Prometheus config error: YAML errors carry their line;
// validation errors that name a job are placed at that job's job_name.
func locate(name string, root *yaml.Node, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "line ") {
		located := yamlErrors(name, err, root)
		var e *Error
		if !errors.As(located, &e) || e.Line > 0 {
			return located
		}
	}
	if m := jobName.FindStringSubmatch(msg); m != nil {
		if line := findJob(root, m[1]); line > 0 {
			return &Error{File: name, Line: line, Reason: msg}
		}
	}
	if strings.Contains(msg, "regexp") {
		if line, re := findBadRegex(root); line > 0 {
			return &Error{File: name, Line: line, Reason: fmt.Sprintf("regex %q: %s", re, msg)}
		}
	}
	if line := findValue(root, msg); line > 0 {
		return &Error{File: name, Line: line, Reason: msg}
	}
	if line := findKey(root, msg); line > 0 {
		return &Error{File: name, Line: line, Reason: msg}
	}
	return &Error{File: name, Reason: msg}
}

// findBadRegex returns the line and value of the first regex that does
// not compile as Prometheus anchors it.
func findBadRegex(root *yaml.Node) (int, string) {
	line, value := 0, ""
	walkPairs(root, func(k, v *yaml.Node) {
		if line == 0 && k.Value == "regex" && v.Kind == yaml.ScalarNode {
			if _, err := regexp.Compile("^(?s:" + v.Value + ")$"); err != nil {
				line, value = v.Line, v.Value
			}
		}
	})
	return line, value
}

// findKey places a message that names a setting ("kv_high: above
// kv_saturated", "scrape timeout greater than ...") at the key it names
// first, when that key appears once under root.
func findKey(root *yaml.Node, msg string) int {
	lower := strings.ToLower(msg)
	lines := map[string][]int{}
	walkPairs(root, func(k, _ *yaml.Node) {
		lines[k.Value] = append(lines[k.Value], k.Line)
	})
	best, bestAt, bestLen := 0, len(lower), 0
	for key, at := range lines {
		if len(at) != 1 || len(key) < 4 { // short keys match ordinary words
			continue
		}
		for _, form := range []string{key, strings.ReplaceAll(key, "_", " ")} {
			i := strings.Index(lower, form)
			if i >= 0 && (i < bestAt || i == bestAt && len(key) > bestLen) {
				best, bestAt, bestLen = at[0], i, len(key)
			}
		}
	}
	return best
}

// walkPairs calls f with every key and value of every mapping under n.
func walkPairs(n *yaml.Node, f func(k, v *yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			f(n.Content[i], n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walkPairs(c, f)
	}
}

// findValue places errors from Prometheus's custom unmarshallers, which
// carry no line, at the one scalar the message quotes ("unknown unit QB in
// 10QB"), when exactly one scalar in the file has that value.
func findValue(root *yaml.Node, msg string) int {
	words := strings.FieldsFunc(msg, func(r rune) bool { return r == ' ' || r == '"' || r == '`' || r == ':' })
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		if len(w) < 2 {
			continue
		}
		var lines []int
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode && n.Value == w {
				lines = append(lines, n.Line)
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(root)
		if len(lines) == 1 {
			return lines[0]
		}
	}
	return 0
}

// findJob returns the line of `job_name: job` under scrape_configs, the
// last one when the name repeats (the duplicate is the error).
func findJob(root *yaml.Node, job string) int {
	line := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "job_name" && n.Content[i+1].Value == job {
					line = n.Content[i+1].Line
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	return line
}

// checkMonitorLabels validates the section's monitor_labels, each bad
// label located at its own line.
func checkMonitorLabels(file string, ext *yaml.Node, labels map[string]string) error {
	node := sectionKey(ext, "monitor_labels")
	var out Errors
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		err := CheckLabels(map[string]string{k: labels[k]})
		if err == nil {
			continue
		}
		line := node.Line
		walkPairs(node, func(kn, _ *yaml.Node) {
			if kn.Value == k {
				line = kn.Line
			}
		})
		out = append(out, &Error{File: file, Line: line, Reason: fmt.Sprintf("%s.monitor_labels: %s", ExtensionKey, strings.ReplaceAll(err.Error(), "\n", "; "))})
	}
	return oneOrAll(out)
}

// checkKeepMetrics compiles each keep_metrics regex as relabelling
// anchors it, a bad one located at its own line.
func checkKeepMetrics(file string, ext *yaml.Node, res []string) error {
	node := sectionKey(ext, "keep_metrics")
	var out Errors
	for i, re := range res {
		if _, err := relabel.NewRegexp(re); err != nil {
			line := node.Line
			if i < len(node.Content) {
				line = node.Content[i].Line
			}
			out = append(out, &Error{File: file, Line: line, Reason: fmt.Sprintf("%s.keep_metrics: regex %q: %v", ExtensionKey, re, err)})
		}
	}
	return oneOrAll(out)
}

// sectionKey returns the value of the first key named key under ext.
func sectionKey(ext *yaml.Node, key string) *yaml.Node {
	var node *yaml.Node
	walkPairs(ext, func(k, v *yaml.Node) {
		if k.Value == key && node == nil {
			node = v
		}
	})
	return node
}

// oneOrAll returns nil for no errors, the error for one, all of them
// otherwise.
func oneOrAll(out Errors) error {
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

package config

import (
	"strings"

	"github.com/alecthomas/units"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// ScrapeLimits are the per-target ingestion limits of one scrape: a target
// over any of them fails its scrape (nothing of it is stored) and shows
// the limit it broke in /api/v1/targets.
type ScrapeLimits struct {
	// SampleLimit bounds the samples of one scrape after relabelling.
	SampleLimit uint
	// BodySizeLimit bounds the uncompressed body read from the target, and
	// so the memory one scrape takes.
	BodySizeLimit units.Base2Bytes
	// LabelLimit bounds the labels of one series.
	LabelLimit uint
	// LabelNameLengthLimit and LabelValueLengthLimit bound the bytes of
	// one label name and value.
	LabelNameLengthLimit  uint
	LabelValueLengthLimit uint
}

// DefaultScrapeLimits are the limits servescope applies to a job whose
// config, and the global section, set none: a 64 MiB body holds about
// 500,000 text-format samples of the exporters servescope reads
// (kube-state-metrics on a ~10,000-pod cluster stays below both), and
// 500,000 series take roughly 0.5–1 GB of head memory. An explicit 0 in the
// job or in `global:` means unlimited, as in Prometheus.
func DefaultScrapeLimits() ScrapeLimits {
	return ScrapeLimits{
		SampleLimit:           500_000,
		BodySizeLimit:         64 * units.MiB,
		LabelLimit:            64,
		LabelNameLengthLimit:  256,
		LabelValueLengthLimit: 4096,
	}
}

// applyDefaultLimits sets DefaultScrapeLimits where the file sets no limit:
// in `global:` (so scrape_config_files inherit them) and in every job that
// neither sets the key nor inherits a global value. root is the parsed
// document; keys present with 0 are left at 0 (unlimited).
func applyDefaultLimits(root *yaml.Node, pc *promconfig.Config) {
	d := DefaultScrapeLimits()
	top := mapping(root)
	global := setKeys(lookup(top, "global"))
	g := &pc.GlobalConfig
	setDefault(global, "sample_limit", &g.SampleLimit, d.SampleLimit)
	setDefault(global, "body_size_limit", &g.BodySizeLimit, d.BodySizeLimit)
	setDefault(global, "label_limit", &g.LabelLimit, d.LabelLimit)
	setDefault(global, "label_name_length_limit", &g.LabelNameLengthLimit, d.LabelNameLengthLimit)
	setDefault(global, "label_value_length_limit", &g.LabelValueLengthLimit, d.LabelValueLengthLimit)
	var jobs []*yaml.Node
	if n := lookup(top, "scrape_configs"); n != nil && n.Kind == yaml.SequenceNode {
		jobs = n.Content
	}
	for i, sc := range pc.ScrapeConfigs {
		var own map[string]string
		if i < len(jobs) {
			own = setKeys(jobs[i])
		}
		// Prometheus copied the global value into every job whose value
		// is 0 before the defaults were set: a job without the key inherits
		// the global value, a job with an explicit 0 is unlimited.
		jobLimit(own, "sample_limit", &sc.SampleLimit, g.SampleLimit)
		jobLimit(own, "body_size_limit", &sc.BodySizeLimit, g.BodySizeLimit)
		jobLimit(own, "label_limit", &sc.LabelLimit, g.LabelLimit)
		jobLimit(own, "label_name_length_limit", &sc.LabelNameLengthLimit, g.LabelNameLengthLimit)
		jobLimit(own, "label_value_length_limit", &sc.LabelValueLengthLimit, g.LabelValueLengthLimit)
	}
}

func jobLimit[T ~uint | ~int64](own map[string]string, key string, v *T, global T) {
	s, ok := own[key]
	switch {
	case !ok:
		*v = global
	case isZero(s):
		*v = 0
	}
}

// isZero says whether a limit's YAML value is zero ("0", "0B", "0MB").
func isZero(s string) bool {
	return strings.TrimLeft(strings.TrimRight(s, "KMGTPEiB"), "0") == "" && strings.HasPrefix(s, "0")
}

func setDefault[T comparable](set map[string]string, key string, v *T, def T) {
	var zero T
	if _, ok := set[key]; !ok && *v == zero {
		*v = def
	}
}

// mapping is the top-level mapping of a document node, or nil.
func mapping(root *yaml.Node) *yaml.Node {
	if root == nil {
		return nil
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	return root
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setKeys are the scalar values of mapping m by key, for the keys with a
// non-null value.
func setKeys(m *yaml.Node) map[string]string {
	set := map[string]string{}
	if m == nil || m.Kind != yaml.MappingNode {
		return set
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if v := m.Content[i+1]; v.Tag != "!!null" {
			set[m.Content[i].Value] = v.Value
		}
	}
	return set
}

package scrape

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// keepRule is the metric relabelling step that stores only what is read:
// a keep on __name__ matching the families the analysis selects (reads)
// and the user's extra regexes. A histogram or summary is kept whole
// (selecting its _bucket series keeps _sum, _count and the native or
// custom-bucket form under the base name), but for the _bucket series of
// the histograms in sumCountOnly, of which the analysis reads only the sum
// and count (unless a read or extra regex selects them); `_created` series
// are not part of what is kept. It is nil, keeping everything,
// when reads is nil or holds a matcher that is not = or =~ on the name
// (a negative matcher selects almost every name).
//
// The scrape loop caches each series' relabelling outcome, so the regex
// runs once per new series, not once per sample.
func keepRule(reads []*labels.Matcher, extra, sumCountOnly []string) (*relabel.Config, error) {
	if reads == nil {
		return nil, nil
	}
	var alts []string
	for _, m := range reads {
		switch m.Type {
		case labels.MatchEqual:
			alts = append(alts, family(m.Value, sumCountOnly)...)
		case labels.MatchRegexp:
			alts = append(alts, matcherRegex(m))
		default:
			return nil, nil
		}
	}
	for _, re := range extra {
		alts = append(alts, "(?:"+re+")")
	}
	slices.Sort(alts)
	alts = slices.Compact(alts)
	re, err := relabel.NewRegexp(strings.Join(alts, "|"))
	if err != nil {
		return nil, fmt.Errorf("names to keep: %w", err)
	}
	return &relabel.Config{
		SourceLabels:         model.LabelNames{model.MetricNameLabel},
		Separator:            ";",
		Regex:                re,
		Action:               relabel.Keep,
		NameValidationScheme: model.UTF8Validation,
	}, nil
}

// ValueKeep is a metric name the analysis reads only for some values of
// one label: its series whose Label matches none of Matchers (= or =~ on
// Label) are dropped at scrape time.
type ValueKeep struct {
	Name, Label string
	Matchers    []*labels.Matcher
}

// matcherRegex is an anchored regex (as relabelling anchors it) of the
// values an = or =~ matcher selects.
func matcherRegex(m *labels.Matcher) string {
	if m.Type == labels.MatchEqual {
		return regexp.QuoteMeta(m.Value)
	}
	return "(?:" + m.Value + ")"
}

// Labels the value steps set while they decide, dropped after.
const (
	valueFiltered = "__servescope_value_filtered"
	valueKept     = "__servescope_value_kept"
)

// valueRules are the metric relabelling steps that drop the series of
// vks' names whose label has a value nothing reads: for each name, a
// replace marks a series of it whose label value is read, another marks
// every series of the filtered names, a drop removes the marked-filtered
// but not marked-kept ones, and a labeldrop removes the marks. (RE2 cannot
// say "any other name", hence the marks.) A name the user's extra regexes
// keep is kept whole. The scrape loop caches each series' outcome, so the
// steps run once per new series.
func valueRules(vks []ValueKeep, extra []string) ([]*relabel.Config, error) {
	var names []string
	var out []*relabel.Config
	step := func(c relabel.Config, re string) error {
		r, err := relabel.NewRegexp(re)
		if err != nil {
			return fmt.Errorf("values to keep: %w", err)
		}
		c.Regex, c.Separator, c.NameValidationScheme = r, ";", model.UTF8Validation
		out = append(out, &c)
		return nil
	}
	for _, vk := range vks {
		if keptByExtra(vk.Name, extra) {
			continue
		}
		q := regexp.QuoteMeta(vk.Name)
		names = append(names, q)
		values := make([]string, len(vk.Matchers))
		for i, m := range vk.Matchers {
			values[i] = matcherRegex(m)
		}
		if err := step(relabel.Config{Action: relabel.Replace, SourceLabels: model.LabelNames{model.MetricNameLabel, model.LabelName(vk.Label)},
			TargetLabel: valueKept, Replacement: "1"}, q+";(?:"+strings.Join(values, "|")+")"); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	if err := step(relabel.Config{Action: relabel.Replace, SourceLabels: model.LabelNames{model.MetricNameLabel},
		TargetLabel: valueFiltered, Replacement: "1"}, strings.Join(names, "|")); err != nil {
		return nil, err
	}
	if err := step(relabel.Config{Action: relabel.Drop, SourceLabels: model.LabelNames{valueFiltered, valueKept}}, "1;"); err != nil {
		return nil, err
	}
	if err := step(relabel.Config{Action: relabel.LabelDrop}, valueFiltered+"|"+valueKept); err != nil {
		return nil, err
	}
	return out, nil
}

// keptByExtra says whether one of the user's keep regexes (anchored)
// selects name.
func keptByExtra(name string, extra []string) bool {
	for _, re := range extra {
		if r, err := relabel.NewRegexp(re); err == nil && r.MatchString(name) {
			return true
		}
	}
	return false
}

// withKeep returns pc with the value steps and keep, last, appended to
// every job's metric relabelling, after the user's own steps so they see
// the final names; pc
// itself is not modified. scs are pc's jobs, scrape_config_files included.
func withKeep(pc *promconfig.Config, scs []*promconfig.ScrapeConfig, keep *relabel.Config, values ...*relabel.Config) *promconfig.Config {
	if keep == nil {
		return pc
	}
	out := *pc
	out.ScrapeConfigFiles = nil
	out.ScrapeConfigs = make([]*promconfig.ScrapeConfig, len(scs))
	for i, sc := range scs {
		c := *sc
		c.MetricRelabelConfigs = append(append(slices.Clip(sc.MetricRelabelConfigs), values...), keep)
		out.ScrapeConfigs[i] = &c
	}
	return &out
}

// family returns the anchored regexes of the sample names of the family
// a selected name belongs to: the name, its base without a histogram or
// summary suffix, and the base with each suffix, but for _bucket when the
// base is one of sumCountOnly (histograms whose buckets nothing reads).
func family(name string, sumCountOnly []string) []string {
	base := name
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok {
			base = b
			break
		}
	}
	q := regexp.QuoteMeta(base)
	out := []string{regexp.QuoteMeta(name), q, q + "_sum", q + "_count"}
	if !slices.Contains(sumCountOnly, base) || name == base+"_bucket" {
		out = append(out, q+"_bucket")
	}
	return out
}

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
			alts = append(alts, "(?:"+m.Value+")")
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

// withKeep returns pc with keep appended to every job's metric
// relabelling, after the user's own steps so it sees the final names; pc
// itself is not modified. scs are pc's jobs, scrape_config_files included.
func withKeep(pc *promconfig.Config, scs []*promconfig.ScrapeConfig, keep *relabel.Config) *promconfig.Config {
	if keep == nil {
		return pc
	}
	out := *pc
	out.ScrapeConfigFiles = nil
	out.ScrapeConfigs = make([]*promconfig.ScrapeConfig, len(scs))
	for i, sc := range scs {
		c := *sc
		c.MetricRelabelConfigs = append(slices.Clip(sc.MetricRelabelConfigs), keep)
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

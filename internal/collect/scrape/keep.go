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
// a keep on __name__ matching the names the analysis selects (reads), the
// names of those histograms' other forms (a classic histogram's _bucket
// selector also keeps the native or custom-bucket form under the base
// name), and the user's extra regexes. It is nil, keeping everything,
// when reads is nil or holds a matcher that is not = or =~ on the name
// (a negative matcher selects almost every name).
//
// The scrape loop caches each series' relabelling outcome, so the regex
// runs once per new series, not once per sample.
func keepRule(reads []*labels.Matcher, extra []string) (*relabel.Config, error) {
	if reads == nil {
		return nil, nil
	}
	var alts []string
	for _, m := range reads {
		switch m.Type {
		case labels.MatchEqual:
			alts = append(alts, regexp.QuoteMeta(m.Value))
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(m.Value, suf); ok {
					alts = append(alts, regexp.QuoteMeta(base))
				}
			}
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

package schema

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// Exporter is a program whose metrics the catalog knows, recognised by the
// prefixes of its metric names.
type Exporter struct {
	Name     string
	Prefixes []string
}

// Exporters returns the exporters the catalog recognises.
func Exporters() []Exporter {
	return append([]Exporter{
		{Name: "vllm", Prefixes: []string{"vllm:"}},
		{Name: "sglang", Prefixes: []string{"sglang:"}},
		{Name: "tgi", Prefixes: []string{"tgi_"}},
		{Name: "llamacpp", Prefixes: []string{"llamacpp:"}},
		{Name: "dcgm-exporter", Prefixes: []string{"DCGM_", "dcgm_"}},
		{Name: "kueue", Prefixes: []string{"kueue_"}},
		{Name: "kube-state-metrics", Prefixes: []string{"kube_"}},
	}, gatewayExporters()...)
}

// genericPrefixes are runtime and HTTP families every exporter may carry;
// they say nothing about which exporter a target is.
func genericPrefixes() []string {
	return []string{"go_", "process_", "python_", "promhttp_", "http_", "scrape_", "up"}
}

// Recognition says which exporter a target is, from its metric family names.
type Recognition struct {
	// Exporter is the recognised exporter, "" when unrecognised.
	Exporter string
	// Sources lists the catalog sources (exporter and versions) with at least
	// one metric present, in catalog order without duplicates.
	Sources []string
	// Signals lists the signals the target can feed.
	Signals []string
	// Unused lists exporter families the catalog does not read (informational).
	Unused []string
}

// Recognized reports whether the target's exporter is known.
func (r Recognition) Recognized() bool { return r.Exporter != "" }

// Recognize identifies a target from its metric family names (or sample
// names: _bucket, _sum, _count suffixes are understood). `_created` families
// and generic runtime families are ignored. A target with no family of a
// known exporter is unrecognised; callers keep it and list it as such.
func (cat *Catalog) Recognize(families []string) Recognition {
	counts := map[string]int{}
	var names []string
	for _, f := range families {
		if strings.HasSuffix(f, "_created") || hasAnyPrefix(f, genericPrefixes()) {
			continue
		}
		names = append(names, f)
		for _, e := range Exporters() {
			if hasAnyPrefix(f, e.Prefixes) {
				counts[e.Name]++
			}
		}
	}
	var r Recognition
	best := 0
	for _, e := range Exporters() {
		if counts[e.Name] > best {
			r.Exporter, best = e.Name, counts[e.Name]
		}
	}
	if r.Exporter == "" {
		return r
	}
	var present []string
	for _, n := range names {
		present = append(present, familyVariants(n)...)
	}
	var used []*labels.Matcher
	for _, s := range cat.signals {
		for _, src := range s.Sources {
			if src.Exporter != r.Exporter {
				continue
			}
			ms := cat.nameMatchers(src)
			if s.Kind != KindInfo {
				used = append(used, ms...)
			}
			if !matchesAny(ms, present) {
				continue
			}
			label := src.Exporter + " " + src.Versions
			if !slices.Contains(r.Sources, label) {
				r.Sources = append(r.Sources, label)
			}
			if !slices.Contains(r.Signals, s.Name) {
				r.Signals = append(r.Signals, s.Name)
			}
		}
	}
	for _, n := range names {
		if !hasAnyPrefix(n, exporterPrefixes(r.Exporter)) {
			continue
		}
		if !matchesAny(used, familyVariants(n)) {
			r.Unused = append(r.Unused, n)
		}
	}
	return r
}

// familyVariants returns the sample names a family name can stand for.
func familyVariants(f string) []string {
	out := []string{f}
	for _, suf := range []string{"_bucket", "_sum", "_count", "_total"} {
		if base, ok := strings.CutSuffix(f, suf); ok {
			out = append(out, base)
		} else {
			out = append(out, f+suf)
		}
	}
	return out
}

func exporterPrefixes(name string) []string {
	for _, e := range Exporters() {
		if e.Name == name {
			return e.Prefixes
		}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool {
		if p == "up" {
			return s == p
		}
		return strings.HasPrefix(s, p)
	})
}

// nameMatchers returns the __name__ matchers of a source's selectors, in
// their classic and native histogram readings.
func (cat *Catalog) nameMatchers(src Source) []*labels.Matcher {
	var out []*labels.Matcher
	for _, q := range []string{src.Expr, src.Denominator} {
		if q == "" {
			continue
		}
		e, err := cat.c.parse("source", q)
		if err != nil {
			continue // New has parsed every source already.
		}
		out = append(out, selectorNames(e)...)
		if readsClassicHistogram(e) {
			out = append(out, selectorNames(nativeForm(e))...)
		}
	}
	return out
}

func matchesAny(ms []*labels.Matcher, names []string) bool {
	for _, m := range ms {
		for _, n := range names {
			if m.Matches(n) {
				return true
			}
		}
	}
	return false
}

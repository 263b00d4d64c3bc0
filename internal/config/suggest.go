package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/file"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"
)

// section is a YAML mapping a person writes, by the Go type the YAML
// decoder names in its errors: what to call it, and its keys.
type section struct {
	name string
	typ  reflect.Type
}

// knownSections are the mappings of servescope.yml whose unknown keys get
// a suggestion, by the name of their Go type. Types missing here still get
// an error without the Go name.
func knownSections() map[string]section {
	out := map[string]section{}
	for _, s := range []struct {
		name string
		v    any
	}{
		{"the top level", promconfig.Config{}},
		{"global", promconfig.GlobalConfig{}},
		{"a scrape config", promconfig.ScrapeConfig{}},
		{"alerting", promconfig.AlertingConfig{}},
		{"an alertmanager config", promconfig.AlertmanagerConfig{}},
		{"a remote_write config", promconfig.RemoteWriteConfig{}},
		{"a remote_read config", promconfig.RemoteReadConfig{}},
		{"storage", promconfig.StorageConfig{}},
		{"a relabel config", relabel.Config{}},
		{"a file_sd config", file.SDConfig{}},
		{"a kubernetes_sd config", kubernetes.SDConfig{}},
		{"an HTTP client config", commoncfg.HTTPClientConfig{}},
		{"tls_config", commoncfg.TLSConfig{}},
		{"the servescope section", Extension{}},
	} {
		t := reflect.TypeOf(s.v)
		out[t.String()] = section{name: s.name, typ: t}
	}
	return out
}

// byParent names the type of a mapping by the key holding it (directly or
// as a list item); "" is the top level.
var byParent = map[string]string{
	"":                       "config.Config",
	"global":                 "config.GlobalConfig",
	"scrape_configs":         "config.ScrapeConfig",
	"alerting":               "config.AlertingConfig",
	"alertmanagers":          "config.AlertmanagerConfig",
	"remote_write":           "config.RemoteWriteConfig",
	"remote_read":            "config.RemoteReadConfig",
	"storage":                "config.StorageConfig",
	"relabel_configs":        "relabel.Config",
	"metric_relabel_configs": "relabel.Config",
	"alert_relabel_configs":  "relabel.Config",
	"write_relabel_configs":  "relabel.Config",
	"file_sd_configs":        "file.SDConfig",
	"kubernetes_sd_configs":  "kubernetes.SDConfig",
	"tls_config":             "config.TLSConfig",
	ExtensionKey:             "config.Extension",
}

// sectionAt is the key holding the mapping that has a key on line; "-"
// when the line holds no key or root is unknown.
func sectionAt(root *yaml.Node, line int) string {
	found := "-"
	var walk func(n *yaml.Node, parent string)
	walk = func(n *yaml.Node, parent string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, parent)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Line == line {
					found = parent
				}
				walk(n.Content[i+1], n.Content[i].Value)
			}
		}
	}
	if root != nil && line > 0 {
		walk(root, "")
	}
	return found
}

var unknownField = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)

// friendly rewrites the YAML decoder's "field X not found in type pkg.T"
// as "unknown key X in <section>; did you mean Y?", never naming a Go
// type. extra adds a section decoded elsewhere (the diagnosis thresholds).
// at is the section found at the error's place in the file, used when the
// type name says nothing (Prometheus decodes through a local "plain").
func friendly(reason, at string, extra ...section) string {
	m := unknownField.FindStringSubmatch(reason)
	if m == nil {
		return reason
	}
	key, typeName := m[1], strings.TrimPrefix(m[2], "*")
	known := knownSections()
	s, ok := known[typeName]
	if !ok {
		s, ok = known[byParent[at]]
	}
	for _, e := range extra {
		for e.typ != nil && e.typ.Kind() == reflect.Pointer {
			e.typ = e.typ.Elem()
		}
		if e.typ != nil && e.typ.String() == typeName {
			s, ok = e, true
		}
	}
	if !ok {
		return "unknown key " + key
	}
	msg := "unknown key " + key + " in " + s.name
	if best := closest(key, keys(s.typ)); best != "" {
		msg += "; did you mean " + best + "?"
	}
	return msg
}

// keys lists the YAML keys of a struct type, inline fields included.
func keys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
		case strings.Contains(opts, "inline"):
			out = append(out, keys(f.Type)...)
		case name != "":
			out = append(out, name)
		case f.IsExported():
			out = append(out, strings.ToLower(f.Name))
		}
	}
	return out
}

// closest is the known key nearest to key by edit distance, if near
// enough to be a typo: at most a third of its length, and at most 3.
func closest(key string, known []string) string {
	best, bestD := "", min(3, max(1, len(key)/3))+1
	slices.Sort(known)
	for _, k := range known {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance with adjacent transpositions
// counting one (team_lable → team_label).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

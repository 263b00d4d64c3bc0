package schema

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Markdown renders the catalog reference page (docs/signals.md).
func (cat *Catalog) Markdown() []byte {
	var b bytes.Buffer
	w := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
	}
	w("<!-- Generated from internal/schema by `go test ./internal/schema -update`; do not edit. -->\n\n")
	w("# Signals\n\n")
	w("servescope reads every engine, GPU exporter and scheduler into one vocabulary: the signals below. ")
	w("Each is recorded by the rule `servescope:<signal>:<aggregation>`; `servescope explain SIGNAL` prints ")
	w("the query of each source, and `servescope rules` writes the rules file for an external Prometheus.\n\n")
	w("Sources are tried in order: for each subject (pod, GPU, queue, namespace, team) the first source with data wins, ")
	w("so a vLLM 0.10 pod exposing both `kv_cache_usage_perc` and `gpu_cache_usage_perc` is counted once. ")
	w("Series with `replica_role=\"follower\"` are dropped, `_created` series are never read, and values outside a ")
	w("signal's range are flagged by `servescope:<signal>:out_of_range`, never clamped.\n\n")
	w("Histograms are read in either form. A source written over a classic histogram's series (`x_bucket`, `x_sum`, ")
	w("`x_count`) also reads the native histogram `x` they belong to, generated from the same syntax tree: `rate(x_bucket[5m])` ")
	w("becomes `rate(x[5m])`, `rate(x_sum[5m])` becomes `histogram_sum(rate(x[5m]))` and `rate(x_count[5m])` ")
	w("`histogram_count(rate(x[5m]))`; per subject the classic reading wins where a store holds both. servescope itself ")
	w("stores classic histograms as native histograms with custom buckets (NHCB, Prometheus's scrape option ")
	w("`convert_classic_histograms_to_nhcb`, [config/config.go](https://github.com/prometheus/prometheus/blob/v3.16.0/config/config.go) ")
	w("`ScrapeConfig.ConvertClassicHistogramsToNHCB`) unless `servescope.keep_classic_histograms` is set, so the same queries ")
	w("run on its store, on a Prometheus keeping classic series, on a remote backend and on data older than the switch. ")
	w("The figures agree to rounding, except over a window holding a series' first samples (a pod's first five minutes), ")
	w("where `rate` extrapolates each classic bucket towards its own zero point but a native histogram's buckets towards its ")
	w("count's ([promql/functions.go](https://github.com/prometheus/prometheus/blob/v3.16.0/promql/functions.go) `extrapolatedRate`): ")
	w("quantiles then differ by up to about 0.5 %.\n\n")

	w("From Go, `schema.New` builds the catalog (every query parsed, or an error); `Select(name, recorded)` returns the recorded ")
	w("series' name when servescope's rules are evaluated by the backend and the full query otherwise; `Quantile`, `AvgOverTime` ")
	w("and `RangeCheck` derive the rest. A target whose exporter the catalog does not know is kept and listed by ")
	w("`servescope signals --unmatched`.\n\n")
	w("| signal | level | kind | unit | recorded as | range |\n|---|---|---|---|---|---|\n")
	for _, s := range cat.signals {
		w("| [`", s.Name, "`](#", s.Name, ") | ", string(s.Level), " | ", string(s.Kind), " | ", string(s.Unit),
			" | `", s.RecordName(), "` | ", rangeText(s.Range), " |\n")
	}

	w("\n## Label aliases\n\nResolved in one place before any aggregation, for the labels a query keeps or joins on; the first spelling present wins, then the canonical one.\n\n")
	w("| canonical | aliases, in order of preference | levels |\n|---|---|---|\n")
	for _, a := range cat.aliases {
		lv := []string{"all"}
		if len(a.Levels) > 0 {
			lv = lv[:0]
			for _, l := range a.Levels {
				lv = append(lv, string(l))
			}
		}
		w("| `", a.Canonical, "` | `", strings.Join(a.From, "`, `"), "` | ", strings.Join(lv, ", "), " |\n")
	}
	w("\nGPU series whose pod is the exporter's own (matching `", cat.c.unallocated, "`) are unallocated: their ")
	w("`pod`, `namespace` and `container` are cleared, so idle GPUs are never charged to the exporter's namespace.\n")

	w("\n## Levels\n\n| level | key labels |\n|---|---|\n")
	for _, l := range []Level{LevelPod, LevelGPU, LevelQueue, LevelNamespace, LevelTeam} {
		w("| ", string(l), " | `", strings.Join(l.Key(), "`, `"), "` |\n")
	}
	w("\nEvery level is also keyed by the cluster label `", cat.c.cluster, "` (servescope.yml's `cluster_label`), the external label ")
	w("each cluster sends its series with to one backend: every aggregation and join keeps it, so two clusters' pods of the same name ")
	w("are never merged. Series without it are one cluster, as before.\n")

	w("\n## Where the names come from\n\nEach name below was checked against its exporter's source at the version given.\n\n| names | source |\n|---|---|\n")
	for _, c := range citations() {
		w("| ", c.Names, " | ", c.Source, " |\n")
	}

	for _, s := range cat.signals {
		c := cat.compiled[s.Name]
		w("\n## ", s.Name, "\n\n", s.Help, "\n\n")
		w("- level: ", string(s.Level), ", by `", strings.Join(s.By(), "`, `"), "`\n")
		w("- kind: ", string(s.Kind), ", unit: ", string(s.Unit), ", aggregation: ", string(s.Agg), "\n")
		w("- range: ", rangeText(s.Range), "\n")
		w("- recorded as: `", s.RecordName(), "`")
		if s.Kind == KindHistogram {
			for _, q := range Quantiles() {
				w(", `", QuantileName(s.Name, q), "`")
			}
		}
		w("\n")
		if len(s.From) > 0 {
			links := make([]string, 0, len(s.From))
			for _, f := range s.From {
				links = append(links, "[`"+f+"`](#"+f+")")
			}
			w("- rolled up through the topology join from ", strings.Join(links, ", else "), "\n\n")
			w("```promql\n", pretty(c.rule), "\n```\n")
			continue
		}
		w("\n| # | exporter | versions | expression | note |\n|---|---|---|---|---|\n")
		for i, src := range s.Sources {
			expr := "`" + src.Expr + "`"
			if src.Denominator != "" {
				expr += " / `" + src.Denominator + "`"
			}
			w("| ", strconv.Itoa(i+1), " | ", src.Exporter, " | ", src.Versions, " | ", strings.ReplaceAll(expr, "|", "\\|"), " | ", src.Note, " |\n")
		}
	}
	return b.Bytes()
}

func rangeText(r *Range) string {
	if r == nil {
		return "–"
	}
	f := func(v float64) string {
		if math.IsInf(v, 0) {
			if v > 0 {
				return "+Inf"
			}
			return "-Inf"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return "[" + f(r.Min) + ", " + f(r.Max) + "]"
}

// pretty formats a checked query over several lines; queries handed out
// were parsed at construction, so a parse failure here cannot happen and
// falls back to the one-line form.
func pretty(q string) string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return q
	}
	return parser.Prettify(e)
}

// Pretty formats a query returned by the catalog over several lines.
func Pretty(q string) string { return pretty(q) }

package schema

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/testutil/golden"
)

// docsPath is the generated reference page, relative to this package.
const docsPath = "../../docs/signals.md"

func newCatalog(t *testing.T) *Catalog {
	t.Helper()
	cat, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return cat
}

// TestGoldenQueries renders every query the catalog hands out (signal, each
// source, range check, quantiles) into testdata/queries.golden, and checks
// each one parses.
func TestGoldenQueries(t *testing.T) {
	t.Parallel()
	cat := newCatalog(t)
	p := parser.NewParser(parser.Options{})
	var b strings.Builder
	mustParse := func(what, q string) string {
		if _, err := p.ParseExpr(q); err != nil {
			t.Errorf("%s does not parse: %v\n%s", what, err, q)
		}
		return q
	}
	for _, s := range cat.Signals() {
		q, err := cat.Query(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("# " + s.Name + " (" + s.RecordName() + ")\n")
		b.WriteString("query: " + mustParse(s.Name, q) + "\n")
		srcs, err := cat.Explain(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i, sq := range srcs {
			b.WriteString("source " + strconv.Itoa(i+1) + " " + sq.Source.Exporter + " " + sq.Source.Versions + ": " + mustParse(s.Name, sq.Query) + "\n")
		}
		chk, err := cat.RangeCheck(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if chk != "" {
			b.WriteString("check: " + mustParse(s.Name+" check", chk) + "\n")
		}
		if s.Kind == KindHistogram {
			for _, qq := range Quantiles() {
				qs, err := cat.Quantile(s.Name, qq)
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString(QuantileName(s.Name, qq) + ": " + mustParse(s.Name+" quantile", qs) + "\n")
			}
		}
		b.WriteString("\n")
	}
	golden.Compare(t, "testdata/queries.golden", []byte(b.String()))
}

// TestRulesFile checks the exported rules with rulefmt, against a golden
// file, and with promtool when it is installed.
func TestRulesFile(t *testing.T) {
	t.Parallel()
	cat := newCatalog(t)
	b, err := cat.RulesFile(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, "testdata/rules.golden.yml", b)

	groups := cat.RuleGroups(30 * time.Second)
	names := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if !strings.HasPrefix(r.Record, "servescope:") || strings.Count(r.Record, ":") != 2 {
				t.Errorf("rule %q is not servescope:<signal>:<aggregation>", r.Record)
			}
			if names[r.Record] {
				t.Errorf("rule %q recorded twice", r.Record)
			}
			names[r.Record] = true
		}
	}
	for _, s := range cat.Signals() {
		if !names[s.RecordName()] {
			t.Errorf("signal %s has no rule %s", s.Name, s.RecordName())
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make installs it); rules were checked with rulefmt only")
	}
	path := filepath.Join(t.TempDir(), "servescope.rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("promtool: %s", bytes.TrimSpace(out))
}

// TestDocs fails when docs/signals.md is out of date; -update rewrites it.
func TestDocs(t *testing.T) {
	t.Parallel()
	golden.Compare(t, docsPath, newCatalog(t).Markdown())
}

// TestNewRejects checks that a bad signal or query fails construction.
func TestNewRejects(t *testing.T) {
	t.Parallel()
	ok := func() Signal {
		return Signal{Name: "x", Help: "x.", Unit: UnitRequests, Kind: KindGauge, Level: LevelPod, Agg: AggSum,
			Sources: []Source{{Exporter: "vllm", Expr: `vllm:num_requests_running`}}}
	}
	tests := []struct {
		name   string
		mutate func(*Signal)
		want   string
	}{
		{"bad PromQL", func(s *Signal) { s.Sources[0].Expr = `sum(vllm:num_requests_running` }, "parse source vllm"},
		{"bad denominator", func(s *Signal) { s.Sources[0].Denominator = `rate(x[5m]` }, "parse denominator"},
		{"unknown function", func(s *Signal) { s.Sources[0].Expr = `nosuch(x)` }, "parse source"},
		{"no sources", func(s *Signal) { s.Sources = nil }, "no sources"},
		{"no help", func(s *Signal) { s.Help = "" }, "required"},
		{"histogram without buckets", func(s *Signal) { s.Kind = KindHistogram }, "histograms"},
		{"unknown aggregation", func(s *Signal) { s.Agg = "median" }, "unknown aggregation"},
		{"roll-up with sources", func(s *Signal) { s.From = []string{"y"} }, "roll-up"},
		{"no exporter", func(s *Signal) { s.Sources[0].Exporter = "" }, "exporter and expr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ok()
			tc.mutate(&s)
			_, err := New(Options{Signals: []Signal{s}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		if _, err := New(Options{Signals: []Signal{ok(), ok()}}); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Fatalf("New: err = %v, want duplicate", err)
		}
	})
	t.Run("unknown signal", func(t *testing.T) {
		t.Parallel()
		cat, err := New(Options{Signals: []Signal{ok()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cat.Query("nope"); !errors.Is(err, ErrUnknownSignal) {
			t.Fatalf("Query: err = %v, want ErrUnknownSignal", err)
		}
	})
}

// TestRecognize checks target recognition from metric family names.
func TestRecognize(t *testing.T) {
	t.Parallel()
	cat := newCatalog(t)
	tests := []struct {
		name       string
		families   []string
		exporter   string
		wantSource string
		wantSignal string
		wantUnused string
	}{
		{"vllm V1", []string{"vllm:kv_cache_usage_perc", "vllm:prompt_tokens", "vllm:prompt_tokens_created", "python_gc_objects_collected"}, "vllm", "vllm V1 ≥0.9, current", "kv_cache_usage_ratio", ""},
		{"vllm V0", []string{"vllm:gpu_cache_usage_perc", "vllm:num_requests_swapped", "vllm:cpu_cache_usage_perc"}, "vllm", "vllm V0, V1 <0.11", "kv_cache_usage_ratio", "vllm:num_requests_swapped"},
		{"vllm histogram samples", []string{"vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds_created"}, "vllm", "vllm V0, V1, current", "ttft_seconds", ""},
		{"sglang", []string{"sglang:num_running_reqs", "sglang:func_latency_seconds"}, "sglang", "sglang all", "requests_running", "sglang:func_latency_seconds"},
		{"llama.cpp", []string{"llamacpp:requests_processing", "llamacpp:n_decode_total"}, "llamacpp", "llamacpp all", "requests_running", "llamacpp:n_decode_total"},
		{"tgi", []string{"tgi_queue_size", "tgi_request_duration"}, "tgi", "tgi all", "requests_waiting", ""},
		{"dcgm", []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_SM_CLOCK"}, "dcgm-exporter", "dcgm-exporter all", "gpu_busy_ratio", "DCGM_FI_DEV_SM_CLOCK"},
		{"dcgm 1.x", []string{"dcgm_gpu_utilization", "dcgm_gpu_temp"}, "dcgm-exporter", "dcgm-exporter 1.x", "gpu_temperature_celsius", ""},
		{"kueue", []string{"kueue_pending_workloads", "kueue_build_info"}, "kueue", "kueue all", "queue_pending_workloads", "kueue_build_info"},
		{"kube-state-metrics", []string{"kube_namespace_labels", "kube_pod_info"}, "kube-state-metrics", "", "namespace_team", ""},
		{"triton is unknown", []string{"nv_inference_request_success", "nv_gpu_utilization"}, "", "", "", ""},
		{"node exporter is unknown", []string{"node_cpu_seconds_total", "go_goroutines", "process_cpu_seconds_total"}, "", "", "", ""},
		{"only runtime families", []string{"go_goroutines", "up"}, "", "", "", ""},
		{"only _created", []string{"vllm:prompt_tokens_created"}, "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cat.Recognize(tc.families)
			if r.Exporter != tc.exporter || r.Recognized() != (tc.exporter != "") {
				t.Fatalf("Recognize(%v) = %+v, want exporter %q", tc.families, r, tc.exporter)
			}
			if tc.wantSource != "" && !slices.Contains(r.Sources, tc.wantSource) {
				t.Errorf("sources %q lack %q", r.Sources, tc.wantSource)
			}
			if tc.wantSignal != "" && !slices.Contains(r.Signals, tc.wantSignal) {
				t.Errorf("signals %q lack %q", r.Signals, tc.wantSignal)
			}
			if tc.wantUnused != "" && !slices.Contains(r.Unused, tc.wantUnused) {
				t.Errorf("unused %q lack %q", r.Unused, tc.wantUnused)
			}
		})
	}
}

// TestTeamLabel checks that a custom team label key reaches the queries as
// kube-state-metrics names it.
func TestTeamLabel(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"team", `label_team!=""`},
		{"cost-center", `label_cost_center!=""`},
		{"team.example.com/owner", `label_team_example_com_owner!=""`},
		{"ownerTeam", `label_owner_team!=""`},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			cat, err := New(Options{TeamLabel: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			q, err := cat.Query("namespace_team")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(q, tc.want) || (tc.key != "team" && strings.Contains(q, "label_team\"")) {
				t.Errorf("namespace_team query for %q:\n%s\nwant %s", tc.key, q, tc.want)
			}
		})
	}
}

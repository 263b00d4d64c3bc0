package slo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/golden"
)

func catalog(t *testing.T) *schema.Catalog {
	t.Helper()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// testSet is a wildcard TTFT objective, a model of its own, and an ITL
// objective limited to vLLM.
func testSet() Set {
	return Set{MinRequestRate: 0.1, Objectives: []Objective{
		{Name: "ttft-500ms", Model: AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.99, Window: 28 * 24 * time.Hour, Engine: "vllm"},
		{Name: "ttft-1s-llama", Model: "Llama-3.1-8B", Indicator: "ttft", Threshold: time.Second, Target: 0.999, Window: 7 * 24 * time.Hour},
		{Name: "e2e-10s", Model: AllModels, Indicator: "e2e", Threshold: 10 * time.Second, Target: 0.95, Window: 28 * 24 * time.Hour},
	}}
}

// TestRulesFile compares the generated rules with the golden file.
func TestRulesFile(t *testing.T) {
	b, err := RulesFile(catalog(t), testSet(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, "testdata/rules.golden.yml", b)
}

func TestNoObjectivesNoRules(t *testing.T) {
	b, err := RulesFile(catalog(t), Set{}, 30*time.Second)
	if err != nil || b != nil {
		t.Fatalf("got %q, %v; want no file", b, err)
	}
}

// TestCheck refuses thresholds that are not bucket boundaries, naming the
// nearest ones, and accepts those that are.
func TestCheck(t *testing.T) {
	cat := catalog(t)
	for _, tc := range []struct {
		o    Objective
		want string // "" for no error
	}{
		{Objective{Name: "a", Model: "*", Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.99, Engine: "vllm"}, ""},
		{Objective{Name: "b", Model: "*", Indicator: "ttft", Threshold: time.Second, Target: 0.99}, ""},
		{Objective{Name: "c", Model: "*", Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.99}, "threshold 500ms is not a bucket boundary of sglang (all) sglang:time_to_first_token_seconds: nearest 400ms and 600ms"},
		{Objective{Name: "d", Model: "*", Indicator: "ttft", Threshold: 300 * time.Millisecond, Target: 0.99, Engine: "vllm"}, "nearest 250ms and 500ms"},
		{Objective{Name: "e", Model: "*", Indicator: "itl", Threshold: 3 * time.Second, Target: 0.99, Engine: "vllm"}, "nearest 2s500ms and 5s"},
		{Objective{Name: "f", Model: "*", Indicator: "e2e", Threshold: 10 * time.Second, Target: 0.99, Engine: "llamacpp"}, `engine "llamacpp": e2e is read from vllm, sglang, tgi only`},
		{Objective{Name: "g", Model: "*", Indicator: "ttft", Threshold: 10000 * time.Second, Target: 0.99, Engine: "vllm"}, "nearest 42m40s"},
	} {
		err := Check(cat, tc.o)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.o.Name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.o.Name, err, tc.want)
		}
	}
}

// TestPromtool runs promtool check rules and promtool test rules (the unit
// tests of testdata/promtool_test.yml) on the generated file.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus); rules were checked with rulefmt only")
	}
	b, err := RulesFile(catalog(t), testSet(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slo.rules.yml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("testdata/promtool_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slo_test.yml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "slo.rules.yml"}, {"test", "rules", "slo_test.yml"}} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
}

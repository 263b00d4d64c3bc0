package app

import (
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

// TestObjectivesBoundaries refuses a threshold that is no bucket boundary
// of an engine's layout, at the threshold's line and naming the nearest
// boundaries, and accepts it limited to the engine whose layout has it.
func TestObjectivesBoundaries(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yml, want string }{
		{"servescope:\n  objectives:\n    - model: \"*\"\n      indicator: ttft\n      threshold: 500ms\n      target: 99%\n",
			"slo.yml:5: objectives: ttft-500ms: threshold 500ms is not a bucket boundary of sglang (all) sglang:time_to_first_token_seconds: nearest 400ms and 600ms"},
		{"servescope:\n  objectives:\n    - model: llama\n      indicator: itl\n      threshold: 30ms\n      target: 99%\n      engine: vllm\n",
			"slo.yml:5: objectives: itl-30ms: threshold 30ms is not a bucket boundary of vllm (≥0.11, current) vllm:inter_token_latency_seconds: nearest 25ms and 50ms"},
		{"servescope:\n  objectives:\n    - model: \"*\"\n      indicator: ttft\n      threshold: 500ms\n      target: 99%\n      engine: vllm\n", ""},
		{"servescope:\n  objectives:\n    - model: \"*\"\n      indicator: e2e\n      threshold: 10s\n      target: 95%\n", ""},
	} {
		cfg, err := config.Parse("slo.yml", []byte(tc.yml), nil)
		if err != nil {
			t.Fatal(err)
		}
		set, err := Objectives(cfg, cat)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.yml, err)
		case tc.want == "" && (len(set.Objectives) != 1 || set.MinRequestRate != config.DefaultSLOMinRequestRate):
			t.Errorf("%q: got %+v", tc.yml, set)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

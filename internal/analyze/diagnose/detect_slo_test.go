package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/slo"
)

// TestSLOFindings: a model burning its budget fast gets a critical finding
// naming the cause its pods' findings give; a ticket is a warning without
// a cause when no detector explains it; a status with nothing firing
// gives no finding.
func TestSLOFindings(t *testing.T) {
	at := time.Unix(3600, 0).UTC()
	o := slo.Objective{Name: "ttft-500ms", Model: slo.AllModels, Indicator: "ttft", Threshold: 500 * time.Millisecond, Target: 0.999, Window: 28 * 24 * time.Hour}
	win := func(w time.Duration, ratio float64) slo.WindowBurn {
		return slo.WindowBurn{Window: w, Requests: 10, ErrorRatio: ratio, Burn: ratio / o.Budget()}
	}
	r := &Report{At: at, Findings: []Finding{
		{Subject: Subject{Level: LevelPod, Namespace: "chat", Pod: "llama-1", Model: "llama"}, State: StateKVSaturated},
		{Subject: Subject{Level: LevelPod, Namespace: "chat", Pod: "llama-0", Model: "llama"}, State: StateKVSaturated},
		{Subject: Subject{Level: LevelPod, Namespace: "chat", Pod: "llama-0", Model: "llama"}, State: StateBacklog},
		{Subject: Subject{Level: LevelPod, Namespace: "chat", Pod: "qwen-0", Model: "qwen"}, State: StateMemoryBound},
	}}
	st := []slo.Status{
		{Objective: o, Model: "llama", ErrorRatio: 0.0005, BudgetRemaining: 0.5,
			Windows: []slo.WindowBurn{win(5*time.Minute, 0.2), win(time.Hour, 0.05)}, Firing: []slo.Burn{slo.Burns[0]}},
		{Objective: o, Model: "qwen", ErrorRatio: 0.0009, BudgetRemaining: 0.1,
			Windows: []slo.WindowBurn{win(6*time.Hour, 0.002), win(3*24*time.Hour, 0.0015)}, Firing: []slo.Burn{slo.Burns[2]}},
		{Objective: o, Model: "mistral", ErrorRatio: 0.0001, BudgetRemaining: 0.9},
	}
	fs := sloFindings(r, st)
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2: %+v", len(fs), fs)
	}
	llama, qwen := fs[0], fs[1]
	if llama.State != StateSLOBurn || llama.Severity != SeverityCritical || llama.Subject.String() != "llama" {
		t.Errorf("llama: %+v", llama)
	}
	for _, want := range []string{"burns its error budget 50.0× over 1h and 200.0× over 5m (page: 14.4×)", "50% of the budget is left",
		"Cause: the KV cache is saturated and requests are preempted on chat/llama-0, chat/llama-1."} {
		if !strings.Contains(llama.Summary, want) {
			t.Errorf("llama summary %q lacks %q", llama.Summary, want)
		}
	}
	if qwen.Severity != SeverityWarning || !strings.Contains(qwen.Summary, "No detector explains it") || qwen.Confidence >= llama.Confidence {
		t.Errorf("qwen: %+v", qwen)
	}
	if got := qwen.Evidence[3]; got.Signal != "slo_error_budget_remaining" || got.Value != 0.1 {
		t.Errorf("qwen evidence: %+v", qwen.Evidence)
	}
}

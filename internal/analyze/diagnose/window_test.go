package diagnose_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// TestStepFor: the step keeps every window within MaxSteps, is a multiple
// of the thresholds' step, and whole minutes above a minute.
func TestStepFor(t *testing.T) {
	th := diagnose.DefaultThresholds()
	for _, c := range []struct{ window, want time.Duration }{
		{time.Minute, 15 * time.Second},
		{time.Hour, 15 * time.Second},
		{8 * time.Hour, 15 * time.Second},
		{8*time.Hour + 30*time.Minute, 30 * time.Second},
		{24 * time.Hour, 45 * time.Second},
		{48 * time.Hour, 2 * time.Minute},
		{7 * 24 * time.Hour, 6 * time.Minute},
		{30 * 24 * time.Hour, 22 * time.Minute},
		{365 * 24 * time.Hour, 263 * time.Minute},
	} {
		got := th.StepFor(c.window)
		if got != c.want {
			t.Errorf("StepFor(%s) = %s, want %s", c.window, got, c.want)
		}
		if n := c.window / got; n > diagnose.MaxSteps || got%th.Step != 0 {
			t.Errorf("StepFor(%s) = %s: %d steps, or not a multiple of %s", c.window, got, n, th.Step)
		}
	}
}

// TestDeployment names a pod's workload from its generated name.
func TestDeployment(t *testing.T) {
	for pod, want := range map[string]string{
		"edge-qwen-llamacpp-7d9f5b6c4d-x2x9z": "edge-qwen-llamacpp", // Deployment: ReplicaSet hash and pod suffix
		"batch-job-x2x9z":                     "batch-job",          // Job or DaemonSet: pod suffix only
		"llama-70b-0":                         "llama-70b",          // StatefulSet ordinal
		"llama-server":                        "llama-server",       // not generated
		"web-abcde":                           "web-abcde",          // 'a' and 'e' are not in Kubernetes' suffix alphabet
		"solo":                                "solo",
	} {
		if got := diagnose.Deployment(pod); got != want {
			t.Errorf("Deployment(%q) = %q, want %q", pod, got, want)
		}
	}
}

// TestEvidenceNotReported: an absent signal is written as null and shown
// as "not reported", never 0.
func TestEvidenceNotReported(t *testing.T) {
	b, err := json.Marshal(diagnose.Evidence{Signal: "kv_cache_usage_ratio", Stat: "mean", NotReported: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"value":null`) || !strings.Contains(s, `"not_reported":true`) {
		t.Errorf("absent evidence encodes as %s", s)
	}
	if got := (diagnose.Evidence{Stat: "mean", NotReported: true}).Text(); got != "not reported (mean)" {
		t.Errorf("Text() = %q", got)
	}
	b, err = json.Marshal(diagnose.Evidence{Signal: "gpu_busy_ratio", Stat: "mean", Value: 0})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"value":0`) || strings.Contains(s, "not_reported") {
		t.Errorf("a reported 0 encodes as %s", s)
	}
}

// FuzzDeployment: the workload name is a prefix of the pod name, and
// never empty for a non-empty pod name.
func FuzzDeployment(f *testing.F) {
	for _, s := range []string{"edge-qwen-llamacpp-7d9f5b6c4d-x2x9z", "llama-0", "-", "--x2x9z", "a-7d9f5b6c4d-x2x9z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pod string) {
		got := diagnose.Deployment(pod)
		if !strings.HasPrefix(pod, got) {
			t.Errorf("Deployment(%q) = %q, not a prefix", pod, got)
		}
		if pod != "" && got == "" {
			t.Errorf("Deployment(%q) is empty", pod)
		}
	})
}

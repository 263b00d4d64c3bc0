package cli

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestWriteDiagnosis: the table lists the findings that call for
// something, the healthy count, and the capacity advice per model and
// kind of GPU, additions, frees and "none" alike.
func TestWriteDiagnosis(t *testing.T) {
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	pod := diagnose.Subject{Level: diagnose.LevelPod, Namespace: "chat", Pod: "llama-0", Model: "llama-8b"}
	r := &diagnose.Report{At: at, Window: time.Hour,
		Findings: []diagnose.Finding{
			{Subject: diagnose.Subject{Level: diagnose.LevelModel, Model: "qwen-7b"}, State: diagnose.StateBacklog, Severity: diagnose.SeverityCritical,
				Confidence: 0.8, Since: at.Add(-time.Hour), Action: "Scale out: add at least 2 × NVIDIA H100 80GB HBM3 GPU.", GPUs: 2},
			{Subject: pod, State: diagnose.StateMemoryBound, Severity: diagnose.SeverityInfo, Confidence: 0.9, Since: at.Add(-20 * time.Minute),
				Action: "Raise the batch per replica: a larger --max-num-seqs."},
			{Subject: pod, State: diagnose.StateHealthy, Severity: diagnose.SeverityInfo, Confidence: 0.9},
		},
		Pods: []diagnose.PodStatus{{Subject: pod, Primary: diagnose.StateMemoryBound},
			{Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "chat", Pod: "llama-1"}, Primary: diagnose.StateHealthy}},
		Capacity: []diagnose.Capacity{
			{Model: "llama-8b", GPUModel: "NVIDIA H100 80GB HBM3", Held: 16, MeanBusy: 0.9, PeakDemand: 15.2, Advice: "none: demand is met"},
			{Model: "llama-8b", GPUModel: "NVIDIA A100-SXM4-80GB", MIG: true, Held: 16, MeanBusy: 0.1, PeakDemand: 2.1, Delta: -12, Advice: "free 12 × NVIDIA A100-SXM4-80GB MIG slice"},
			{Model: "qwen-7b", GPUModel: "NVIDIA H100 80GB HBM3", Held: 4, MeanBusy: 0.95, PeakDemand: 3.9, Delta: 2, Saturated: true, Advice: "add at least 2 × NVIDIA H100 80GB HBM3 GPU"},
		}}
	var buf bytes.Buffer
	if err := WriteDiagnosis(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "diagnose.golden"), buf.Bytes())
}

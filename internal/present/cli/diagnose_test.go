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

// TestWriteDiagnosisClusters: with pods of the same name in two clusters,
// the tables lead with a CLUSTER column and the pods are not grouped
// across clusters; one cluster's table has no such column.
func TestWriteDiagnosisClusters(t *testing.T) {
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	pod := func(cl string) diagnose.Subject {
		return diagnose.Subject{Level: diagnose.LevelPod, Cluster: cl, Namespace: "chat", Pod: "llama-7d9c5b6f4-x2x4z", Model: "llama-8b"}
	}
	idle := func(cl string) diagnose.Finding {
		return diagnose.Finding{Subject: pod(cl), State: diagnose.StateIdle, Severity: diagnose.SeverityWarning, Confidence: 0.9, Since: at.Add(-time.Hour), Action: "Scale down."}
	}
	r := &diagnose.Report{At: at, Window: time.Hour,
		Findings: []diagnose.Finding{idle("eu-1"), idle("us-1")},
		Pods:     []diagnose.PodStatus{{Subject: pod("eu-1"), Primary: diagnose.StateIdle}, {Subject: pod("us-1"), Primary: diagnose.StateIdle}},
		Capacity: []diagnose.Capacity{{Cluster: "eu-1", Model: "llama-8b", GPUModel: "NVIDIA H100 80GB HBM3", Held: 1, Advice: "none"}}}
	var buf bytes.Buffer
	if err := WriteDiagnosis(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "diagnose-clusters.golden"), buf.Bytes())
	one := &diagnose.Report{At: at, Window: time.Hour, Findings: r.Findings[:1], Pods: r.Pods[:1]}
	buf.Reset()
	if err := WriteDiagnosis(&buf, one); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("CLUSTER")) {
		t.Errorf("one cluster's table has a cluster column:\n%s", buf.Bytes())
	}
}

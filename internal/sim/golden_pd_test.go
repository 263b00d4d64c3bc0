package sim

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestGoldenExpositionPD pins the exposition of disaggregated workers: one
// pod of each deployment of kv-transfer-slow (SGLang and vLLM NIXL,
// prefill and decode) and kube-state-metrics with llm-d's role label, at 8
// GPUs after 3 minutes.
func TestGoldenExpositionPD(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "kv-transfer-slow", 8)
	c.Step(c.Start().Add(3 * time.Minute))
	var out bytes.Buffer
	seen := map[string]bool{}
	for _, tg := range c.Targets() {
		key := tg.Kind
		if tg.Kind == KindEngine {
			p := c.podIdx[tg.Labels["namespace"]+"/"+tg.Labels["pod"]]
			key += "/" + p.dep.spec.Name
		}
		if seen[key] || (tg.Kind != KindEngine && tg.Kind != KindKSM) {
			continue
		}
		seen[key] = true
		b, err := c.RenderBytes(tg.Path)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("### " + tg.Path + "\n")
		out.Write(b)
	}
	golden.Compare(t, filepath.Join("testdata", "kv-transfer-slow-8gpus-3m.prom"), out.Bytes())
}

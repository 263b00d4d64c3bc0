package sim

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestGoldenExposition pins the exposition of a fixed seed: one engine pod
// of each kind, one dcgm-exporter per node pool, Kueue (leader and follower) and
// kube-state-metrics of the mixed scenario at 16 GPUs after 3 minutes.
func TestGoldenExposition(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "mixed", 16)
	c.Step(c.Start().Add(3 * time.Minute))
	var out bytes.Buffer
	kinds := map[string]bool{}
	for _, tg := range c.Targets() {
		key := tg.Kind + "/" + tg.Engine
		if tg.Kind == KindDCGM { // one node per pool: whole cards and MIG
			key += tg.Labels["node"][:strings.LastIndexByte(tg.Labels["node"], '-')]
		}
		if kinds[key] && tg.Kind != KindKueue {
			continue
		}
		kinds[key] = true
		b, err := c.RenderBytes(tg.Path)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("### " + tg.Path + "\n")
		out.Write(b)
	}
	golden.Compare(t, filepath.Join("testdata", "mixed-16gpus-seed7-3m.prom"), out.Bytes())
}

// TestSameSeedSameOutput checks determinism across clusters, and that a
// different seed changes the output.
func TestSameSeedSameOutput(t *testing.T) {
	t.Parallel()
	render := func(seed uint64) string {
		c, err := NewCluster(Options{Scenario: loadExample(t, "noisy-tenant"), GPUs: 16, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		c.Step(c.Start().Add(10 * time.Minute))
		var b strings.Builder
		for _, tg := range c.Targets() {
			out, err := c.RenderBytes(tg.Path)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(out)
		}
		return b.String()
	}
	a, b, other := render(3), render(3), render(4)
	if a != b {
		t.Error("same seed gave different exposition")
	}
	if a == other {
		t.Error("different seeds gave the same exposition")
	}
}

package sim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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
	golden := filepath.Join("testdata", "mixed-16gpus-seed7-3m.prom")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		got, exp := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(got), len(exp)) {
			if got[i] != exp[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -run Golden -update to accept)", golden, i+1, got[i], exp[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d", golden, len(got), len(exp))
	}
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

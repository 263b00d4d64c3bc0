package sim

import (
	"fmt"
	"testing"
	"time"
)

func benchCluster(b *testing.B, name string, gpus int) *Cluster {
	b.Helper()
	sc, err := LoadScenario("../../examples/scenarios/" + name + ".yml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCluster(Options{Scenario: sc, GPUs: gpus, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	c.Step(c.Start().Add(2 * time.Minute)) // warm up to steady state
	return c
}

// BenchmarkStep measures simulated time per real time: each iteration
// steps a cluster by one simulated second. gpus_per_core is how many GPUs
// one core simulates in real time (the goal is 40,000: 10,000 GPUs on 0.25
// core).
func BenchmarkStep(b *testing.B) {
	for _, bc := range []struct {
		name string
		gpus int
	}{{"healthy", 64}, {"mixed", 64}, {"backlog", 64}, {"idle", 64}, {"healthy", 10_000}, {"mixed", 10_000}} {
		b.Run(fmt.Sprintf("%s-%dgpus", bc.name, bc.gpus), func(b *testing.B) {
			c := benchCluster(b, bc.name, bc.gpus)
			t := c.Now()
			start := time.Now()
			for b.Loop() {
				t = t.Add(time.Second)
				c.Step(t)
			}
			perSimSecond := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(float64(c.GPUs())/perSimSecond, "gpus_per_core")
		})
	}
}

// BenchmarkRender measures rendering one vLLM engine pod's exposition and
// one dcgm-exporter node's.
func BenchmarkRender(b *testing.B) {
	c := benchCluster(b, "healthy", 64)
	var pod, dcgm string
	for _, tg := range c.Targets() {
		switch {
		case tg.Kind == KindEngine && pod == "":
			pod = tg.Path
		case tg.Kind == KindDCGM && dcgm == "":
			dcgm = tg.Path
		}
	}
	for _, path := range []string{pod, dcgm, "/targets/kueue/metrics", "/targets/ksm/metrics"} {
		b.Run(path, func(b *testing.B) {
			var n int
			for b.Loop() {
				out, err := c.RenderBytes(path)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}

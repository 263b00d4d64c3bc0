package sim_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/sim"
)

func TestProbePD(t *testing.T) {
	name := os.Getenv("PROBE")
	if name == "" {
		t.Skip()
	}
	sc, err := sim.OpenScenario("", name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 1, GPUs: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []time.Duration{10, 20} {
		c.Step(c.Start().Add(m * time.Minute))
		for _, tg := range c.Targets() {
			if tg.Kind != sim.KindEngine {
				continue
			}
			b, _ := c.RenderBytes(tg.Path)
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "vllm:engine_sleep_state") && strings.Contains(l, "awake") || strings.HasPrefix(l, "vllm:num_requests_running") {
					fmt.Println(m, tg.Labels["pod"], l)
				}
			}
		}
	}
	tr := c.Truth()
	for _, p := range tr.Pods {
		fmt.Println(p.Pod, p.Minutes[len(p.Minutes)-1].State)
	}
}

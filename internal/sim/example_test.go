package sim_test

import (
	"fmt"
	"time"

	"github.com/servescope/servescope/internal/sim"
)

// Example builds a scenario inline, steps it in simulated time, scrapes a
// target and reads the ground truth: the calls a detector or cost test needs.
func Example() {
	sc, err := sim.ParseScenario("inline.yml", []byte(`
name: two-replicas
gpus: 8
nodes:
  - {flavor: h100, gpu: H100, share: 1}
teams:
  - {name: chat, quota: {h100: 1}}
deployments:
  - name: chat-llama-8b
    team: chat
    model: Llama-3.1-8B
    flavor: h100
    share: 0.25
    cpu_overhead: 45ms
    load: {rate: 3, prompt_tokens: {mean: 500}, output_tokens: {mean: 200}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := sim.NewCluster(sim.Options{Scenario: sc, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Step(c.Start().Add(10 * time.Minute))

	for _, tg := range c.Targets() {
		if tg.Kind == sim.KindEngine {
			body, err := c.RenderBytes(tg.Path) // text 0.0.4, as a scrape would read it
			fmt.Println(tg.Job, tg.Labels["namespace"], len(body) > 0, err)
		}
	}
	truth := c.Truth()
	fmt.Println(len(truth.Pods), "pods,", truth.StateCounts()[sim.StateHostBound], "host-bound pod-minutes")
	for _, t := range truth.Teams {
		fmt.Printf("%s: %.2f GPU-hours allocated\n", t.Team, t.AllocatedGPUHours)
	}
	// Output:
	// vllm chat true <nil>
	// vllm chat true <nil>
	// 2 pods, 20 host-bound pod-minutes
	// chat: 0.33 GPU-hours allocated
}

package sim

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// relabelScenario has four chat replicas on 16 H100s; the event moves the
// oldest one's team label to search at 10m.
const relabelScenario = `name: relabel
gpus: 16
nodes:
  - {flavor: h100, gpu: H100, share: 1}
teams:
  - {name: chat, cohort: all, quota: {h100: 0.5}}
  - {name: search, cohort: all, quota: {h100: 0.5}}
deployments:
  - name: chat-llama
    team: chat
    model: Llama-3.1-8B
    flavor: h100
    share: 0.25
    load: {rate: 2, prompt_tokens: {mean: 400}, output_tokens: {mean: 100}}
`

const relabelEvent = `events:
  - {at: 10m, kind: relabel, deployment: chat-llama, pods: 1, value: search}
`

func relabelCluster(t *testing.T, events string) *Cluster {
	t.Helper()
	sc, err := ParseScenario("relabel.yml", []byte(relabelScenario+events))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCluster(Options{Scenario: sc, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// renderAll renders every target by path.
func renderAll(t *testing.T, c *Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tg := range c.Targets() {
		b, err := c.RenderBytes(tg.Path)
		if err != nil {
			t.Fatalf("render %s: %v", tg.Path, err)
		}
		out[tg.Path] = string(b)
	}
	return out
}

// podLabelLines are kube-state-metrics' kube_pod_labels lines.
func podLabelLines(ksm string) []string {
	var out []string
	for l := range strings.Lines(ksm) {
		if strings.HasPrefix(l, "kube_pod_labels{") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestRelabelEvent checks that a relabel changes the pod's team label in
// kube-state-metrics (same pod, same uid, new label_team) and moves the
// pod's GPU-hours in the truth from the old team to the new one at the
// event, and changes nothing else: every other target renders as without
// the event, and the run is deterministic.
func TestRelabelEvent(t *testing.T) {
	t.Parallel()
	c, plain := relabelCluster(t, relabelEvent), relabelCluster(t, "")
	const ksm = "/targets/ksm/metrics"
	before := c.Start().Add(9 * time.Minute)
	c.Step(before)
	plain.Step(before)
	if a, b := renderAll(t, c), renderAll(t, plain); !reflect.DeepEqual(a, b) {
		t.Fatal("the exposition differs before the relabel")
	}
	moved := c.pods[0]
	name, uid := moved.name, moved.uid
	if got := len(podLabelLines(renderAll(t, c)[ksm])); got != 4 {
		t.Fatalf("%d kube_pod_labels series, want 4 chat replicas", got)
	}

	after := c.Start().Add(20 * time.Minute)
	c.Step(after)
	plain.Step(after)
	got, want := renderAll(t, c), renderAll(t, plain)
	for path := range want {
		if path != ksm && got[path] != want[path] {
			t.Errorf("%s differs from the run without the relabel", path)
		}
	}
	search := 0
	for _, l := range podLabelLines(got[ksm]) {
		if !strings.Contains(l, `label_team="search"`) {
			continue
		}
		search++
		if !strings.Contains(l, `namespace="chat",pod="`+name+`",uid="`+uid+`"`) || !strings.Contains(l, `label_kueue_x_k8s_io_local_queue_name="chat-queue"`) {
			t.Errorf("relabelled series %s: want pod %s, uid %s, namespace chat and its queue unchanged", l, name, uid)
		}
	}
	if search != 1 {
		t.Errorf("%d kube_pod_labels series with label_team=search, want 1:\n%s", search, strings.Join(podLabelLines(got[ksm]), "\n"))
	}
	if strings.Contains(strings.Join(podLabelLines(want[ksm]), "\n"), `label_team="search"`) {
		t.Error("the run without the event relabelled a pod")
	}

	// Truth: chat holds four GPUs until 10m and three after; search none,
	// then the relabelled pod's one.
	event := c.Start().Add(10 * time.Minute)
	perMinute := func(tr Truth, team string, at time.Time) float64 {
		for _, tt := range tr.Teams {
			if tt.Team != team {
				continue
			}
			for _, m := range tt.Minutes {
				if m.Time.Equal(at) {
					return m.AllocatedGPUHours * 60
				}
			}
		}
		t.Fatalf("no truth for team %s at %s", team, at)
		return 0
	}
	tr := c.Truth()
	for at := c.Start(); at.Before(after); at = at.Add(time.Minute) {
		wantChat, wantSearch := 4.0, 0.0
		if !at.Before(event) {
			wantChat, wantSearch = 3, 1
		}
		if g := perMinute(tr, "chat", at); math.Abs(g-wantChat) > 1e-9 {
			t.Errorf("chat at %s: %.6f GPUs, want %g", at.Format("15:04"), g, wantChat)
		}
		if g := perMinute(tr, "search", at); math.Abs(g-wantSearch) > 1e-9 {
			t.Errorf("search at %s: %.6f GPUs, want %g", at.Format("15:04"), g, wantSearch)
		}
		if g := perMinute(plain.Truth(), "chat", at); math.Abs(g-4) > 1e-9 {
			t.Errorf("without the event, chat at %s: %.6f GPUs, want 4", at.Format("15:04"), g)
		}
	}
	for _, p := range tr.Pods {
		if p.Pod == name && (p.Team != "search" || p.Namespace != "chat") {
			t.Errorf("pod truth team %q namespace %q, want search in chat", p.Team, p.Namespace)
		}
	}

	again := relabelCluster(t, relabelEvent)
	again.Step(after)
	if !reflect.DeepEqual(renderAll(t, again), got) || !reflect.DeepEqual(again.Truth(), tr) {
		t.Error("the same seed gave a different exposition or truth")
	}
}

// TestExporterEventScales checks that exporter-down takes the same share
// of the nodes at any size (two of eight as written, at least one).
func TestExporterEventScales(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ gpus, nodes, down int }{{8, 1, 1}, {16, 2, 1}, {64, 8, 2}, {640, 80, 20}, {10_000, 1250, 313}} {
		c, err := NewCluster(Options{Scenario: loadExample(t, "exporter-down"), GPUs: tt.gpus, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.applyEvents(11 * 60)
		down := 0
		for _, n := range c.nodes {
			if n.exporterDown {
				down++
			}
		}
		if len(c.nodes) != tt.nodes || down != tt.down {
			t.Errorf("%d GPUs: %d of %d nodes down, want %d of %d", tt.gpus, down, len(c.nodes), tt.down, tt.nodes)
		}
	}
}

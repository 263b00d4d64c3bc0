package simcheck

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/schema/schematest"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/expo"
)

// simScrapeEvery is how often the test scrapes every simulated target.
const simScrapeEvery = 5 * time.Second

// scrapeSim steps the cluster to ts and appends every target's exposition at
// ts, attaching target labels as Prometheus would (honor_labels per target).
func scrapeSim(t *testing.T, app storage.AppenderV2, c *sim.Cluster, ts time.Time) {
	t.Helper()
	eachTarget(t, c, ts, func(body []byte, target labels.Labels, honor bool) {
		for _, s := range expo.Scrape(t, body, target, honor) {
			if _, err := app.Append(0, s.Labels, 0, ts.UnixMilli(), s.Value, nil, nil, storage.AppendV2Options{}); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
	})
}

// eachTarget steps the cluster to ts and hands every target that is up its
// exposition, its target labels (job included) and its honor_labels.
func eachTarget(t *testing.T, c *sim.Cluster, ts time.Time, scrape func(body []byte, target labels.Labels, honor bool)) {
	t.Helper()
	c.Step(ts)
	for _, tg := range c.Targets() {
		b, err := c.RenderBytes(tg.Path)
		if errors.Is(err, sim.ErrTargetDown) {
			continue
		}
		if err != nil {
			t.Fatalf("render %s: %v", tg.Path, err)
		}
		scrape(b, labels.NewBuilder(labels.FromMap(tg.Labels)).Set("job", tg.Job).Labels(), tg.HonorLabels)
	}
}

// checkVariant compares a variant's run with the simulator's ground truth
// of its last whole minute.
func checkVariant(t *testing.T, r simRun) {
	checkSimTruth(t, r.cat, r.st, r.c.Truth(), r.start.Add(2*time.Minute), r.end.Add(-r.every))
}

func checkSimTruth(t *testing.T, cat *schema.Catalog, st storage.Queryable, tr sim.Truth, minute, at time.Time) {
	t.Helper()
	eng := schematest.NewEngine()
	query := func(name string) string {
		q, err := cat.Query(name)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	// minuteAvg averages the scrapes of the minute ending at the evaluation
	// time, like the simulator's per-minute truth.
	minuteAvg := func(t *testing.T, q string) string {
		t.Helper()
		out, err := cat.AvgOverTime(q, time.Minute, simScrapeEvery)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	byPod := func(v promql.Vector) map[string]promql.Sample {
		out := map[string]promql.Sample{}
		for _, s := range v {
			k := s.Metric.Get("namespace") + "/" + s.Metric.Get("pod")
			if _, dup := out[k]; dup {
				t.Errorf("two series for pod %s: counted twice", k)
			}
			out[k] = s
		}
		return out
	}
	running := byPod(schematest.Instant(t, eng, st, minuteAvg(t, query("requests_running")), at))
	waiting := byPod(schematest.Instant(t, eng, st, minuteAvg(t, query("requests_waiting")), at))
	kv := byPod(schematest.Instant(t, eng, st, minuteAvg(t, query("kv_cache_usage_ratio")), at))
	gpuPod := schematest.Instant(t, eng, st, query("gpu_pod"), at)
	gpuTeam := schematest.Instant(t, eng, st, query("gpu_team"), at)
	podQueue := schematest.Instant(t, eng, st, query("pod_queue"), at)
	queueTeam := schematest.Instant(t, eng, st, query("queue_team"), at)
	busy := map[string]float64{}
	for _, s := range schematest.Instant(t, eng, st, minuteAvg(t, query("gpu_busy_ratio")), at) {
		busy[s.Metric.Get("uuid")] = s.F
	}

	pods := 0
	for _, p := range tr.Pods {
		m, ok := minuteOf(p.Minutes, minute)
		if !ok {
			continue
		}
		pods++
		key := p.Namespace + "/" + p.Pod
		t.Run(key, func(t *testing.T) {
			near(t, "requests_running", running, key, m.Running, 0.2, 1)
			near(t, "requests_waiting", waiting, key, m.Waiting, 0.2, 1)
			if p.Engine != sim.EngineLlamaCpp { // current llama.cpp exposes no KV usage
				near(t, "kv_cache_usage_ratio", kv, key, m.KVUsage, 0.2, 0.01)
			}
			pq := schematest.Select(podQueue, map[string]string{"namespace": p.Namespace, "pod": p.Pod})
			if len(pq) != 1 || pq[0].Metric.Get("local_queue") == "" || pq[0].Metric.Get("cluster_queue") == "" {
				t.Errorf("pod_queue for %s = %v, want one LocalQueue and ClusterQueue", key, pq)
			} else if len(schematest.Select(queueTeam, map[string]string{"cluster_queue": pq[0].Metric.Get("cluster_queue"), "team": p.Team})) != 1 {
				t.Errorf("queue_team lacks ClusterQueue %s → team %s", pq[0].Metric.Get("cluster_queue"), p.Team)
			}
			var b float64
			for _, g := range p.GPUs {
				b += busy[g]
				if n := len(schematest.Select(gpuPod, map[string]string{"uuid": g, "namespace": p.Namespace, "pod": p.Pod})); n == 0 {
					t.Errorf("gpu_pod: GPU %s not mapped to %s", g, key)
				}
				if n := len(schematest.Select(gpuTeam, map[string]string{"uuid": g, "team": p.Team, "pod": p.Pod})); n == 0 {
					t.Errorf("gpu_team: GPU %s not mapped to team %s", g, p.Team)
				}
			}
			if len(p.GPUs) > 0 {
				b /= float64(len(p.GPUs))
				if !within(b, m.Busy, 0.15, 0.05) {
					t.Errorf("gpu_busy_ratio of %s's GPUs = %.3f, truth %.3f", key, b, m.Busy)
				}
			}
		})
	}
	if pods == 0 {
		t.Fatal("no pod has truth for the compared minute")
	}
	if len(running) != pods {
		t.Errorf("requests_running has %d pods, truth %d", len(running), pods)
	}
	// Every GPU the truth does not give a pod is unallocated in the join.
	held := map[string]bool{}
	for _, p := range tr.Pods {
		for _, g := range p.GPUs {
			held[g] = true
		}
	}
	for _, s := range gpuPod {
		if !held[s.Metric.Get("uuid")] && (s.Metric.Get("pod") != "" || s.Metric.Get("namespace") != "") {
			t.Errorf("idle GPU %s attributed to %s/%s", s.Metric.Get("uuid"), s.Metric.Get("namespace"), s.Metric.Get("pod"))
		}
	}
	// Team GPU allocation: the truth's GPU-hours in the minute × 60.
	used := map[string]float64{}
	for _, s := range schematest.Instant(t, eng, st, minuteAvg(t, query("team_used_gpus")), at) {
		used[s.Metric.Get("team")] = s.F
	}
	var allocated float64
	for _, tt := range tr.Teams {
		tm, ok := teamMinuteOf(tt.Minutes, minute)
		if !ok {
			continue
		}
		want := tm.AllocatedGPUHours * 60
		allocated += want
		if !within(used[tt.Team], want, 0.05, 0.2) {
			t.Errorf("team_used_gpus{team=%q} = %.3f, truth %.3f GPUs", tt.Team, used[tt.Team], want)
		}
	}
	// ClusterQueue usage, with an HA follower exporting the same gauges in
	// one variant: counted once, it adds up to the teams' allocation.
	var queued float64
	for _, s := range schematest.Instant(t, eng, st, minuteAvg(t, query("queue_used_gpus")), at) {
		queued += s.F
	}
	if !within(queued, allocated, 0.05, 0.2) {
		t.Errorf("sum of queue_used_gpus = %.3f, truth allocation %.3f GPUs", queued, allocated)
	}
}

func near(t *testing.T, signal string, got map[string]promql.Sample, key string, want, rel, abs float64) {
	t.Helper()
	s, ok := got[key]
	if !ok {
		t.Errorf("%s: no series for %s", signal, key)
		return
	}
	if !within(s.F, want, rel, abs) {
		t.Errorf("%s{%s} = %.4f, truth %.4f", signal, key, s.F, want)
	}
}

func within(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= math.Max(abs, rel*math.Abs(want))
}

func minuteOf(ms []sim.PodMinute, at time.Time) (sim.PodMinute, bool) {
	for _, m := range ms {
		if m.Time.Equal(at) {
			return m, true
		}
	}
	return sim.PodMinute{}, false
}

func teamMinuteOf(ms []sim.TeamMinute, at time.Time) (sim.TeamMinute, bool) {
	for _, m := range ms {
		if m.Time.Equal(at) {
			return m, true
		}
	}
	return sim.TeamMinute{}, false
}

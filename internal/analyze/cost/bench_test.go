package cost_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
)

// BenchmarkCost30Days1000GPUs is a 30-day team report over 1,000 H100s
// (125 nodes, 1,000 one-GPU pods in 20 team namespaces) scraped every 5
// minutes, with the default evaluation step (30m for 30 days), read from
// raw series: no recording rules are involved. The store holds 24h blocks
// and, in its head, the last day or so; it is compacted before timing, so
// no compaction runs meanwhile. That is about what a Prometheus keeping 15
// to 30 days holds (it compacts blocks up to a tenth of the retention: 18h
// or 54h). Issue 6's target is at most 2 s.
func BenchmarkCost30Days1000GPUs(b *testing.B) {
	const (
		nodes   = 125
		perNode = 8
		every   = 5 * time.Minute
		days    = 30
	)
	st := teststorage.New(b)
	start := time.Unix(0, 0).UTC()
	end := start.Add(days * 24 * time.Hour)
	type series struct {
		ls labels.Labels
		v  float64
	}
	var all []series
	add := func(v float64, kv ...string) { all = append(all, series{labels.FromStrings(kv...), v}) }
	for t := range 20 {
		ns := "team-" + strconv.Itoa(t)
		add(1, "__name__", "kube_namespace_labels", "namespace", ns, "label_team", ns)
	}
	for n := range nodes {
		node := "gpu-" + strconv.Itoa(n)
		add(1, "__name__", "kube_node_labels", "node", node, "label_nvidia_com_gpu_product", "NVIDIA-H100-80GB-HBM3", "label_kueue_flavor", "h100")
		add(perNode, "__name__", "kube_node_status_allocatable", "node", node, "resource", "nvidia_com_gpu", "unit", "integer")
		for g := range perNode {
			i := n*perNode + g
			ns, pod, uid := "team-"+strconv.Itoa(i%20), "pod-"+strconv.Itoa(i), "uid-"+strconv.Itoa(i)
			add(1, "__name__", "kube_pod_labels", "namespace", ns, "pod", pod, "uid", uid)
			add(1, "__name__", "kube_pod_status_phase", "namespace", ns, "pod", pod, "uid", uid, "phase", "Running")
			add(1, "__name__", "kube_pod_container_resource_requests", "namespace", ns, "pod", pod, "uid", uid, "container", "c", "node", node, "resource", "nvidia_com_gpu", "unit", "integer")
			add(0.5, "__name__", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gpu", strconv.Itoa(g), "UUID", "GPU-"+strconv.Itoa(i), "Hostname", node, "namespace", ns, "pod", pod, "container", "c")
		}
	}
	for t := start; !t.After(end); t = t.Add(every) {
		app := st.Appender(b.Context())
		for _, s := range all {
			if _, err := app.Append(0, s.ls, t.UnixMilli(), s.v); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 50_000_000, Timeout: 5 * time.Minute})
	calc := newCalc(b, nil)
	b.ResetTimer()
	for b.Loop() {
		rep, err := calc.Compute(b.Context(), eng, cost.Request{Start: start, End: end})
		if err != nil {
			b.Fatal(err)
		}
		if got := rep.Sets[0].Totals.AllocatedGPUHours; got != 1000*days*24 {
			b.Fatalf("allocated %.1f GPU-hours, want %d", got, 1000*days*24)
		}
	}
}

package cost_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// remoteSeries is an hour of a small cluster: a whole-GPU pod, a MIG pod
// with dcgm-exporter scraped with honor_labels off, a Succeeded pod and an
// idle GPU. Values are constant per series.
var remoteSeries = []struct {
	name string
	kv   []string
	v    float64
}{
	{"kube_node_labels", []string{"node", "n1", "label_nvidia_com_gpu_product", "NVIDIA-H100-80GB-HBM3", "label_kueue_flavor", "h100"}, 1},
	{"kube_node_labels", []string{"node", "n3", "label_nvidia_com_gpu_product", "NVIDIA-A100-SXM4-80GB", "label_kueue_flavor", "a100-mig"}, 1},
	{"kube_node_status_allocatable", []string{"node", "n1", "resource", "nvidia_com_gpu", "unit", "integer"}, 4},
	{"kube_node_status_allocatable", []string{"node", "n3", "resource", "nvidia_com_mig_1g_10gb", "unit", "integer"}, 7},
	{"kube_namespace_labels", []string{"namespace", "chat", "label_team", "chat"}, 1},
	{"kube_namespace_labels", []string{"namespace", "train", "label_team", "train"}, 1},
	{"kube_pod_labels", []string{"namespace", "chat", "pod", "p", "uid", "u-p"}, 1},
	{"kube_pod_status_phase", []string{"namespace", "chat", "pod", "p", "uid", "u-p", "phase", "Running"}, 1},
	{"kube_pod_container_resource_requests", []string{"namespace", "chat", "pod", "p", "uid", "u-p", "container", "c", "node", "n1", "resource", "nvidia_com_gpu", "unit", "integer"}, 2},
	{"kube_pod_labels", []string{"namespace", "chat", "pod", "done", "uid", "u-d"}, 1},
	{"kube_pod_status_phase", []string{"namespace", "chat", "pod", "done", "uid", "u-d", "phase", "Running"}, 0},
	{"kube_pod_status_phase", []string{"namespace", "chat", "pod", "done", "uid", "u-d", "phase", "Succeeded"}, 1},
	{"kube_pod_container_resource_requests", []string{"namespace", "chat", "pod", "done", "uid", "u-d", "container", "c", "node", "n1", "resource", "nvidia_com_gpu", "unit", "integer"}, 1},
	{"kube_pod_labels", []string{"namespace", "train", "pod", "m", "uid", "u-m"}, 1},
	{"kube_pod_status_phase", []string{"namespace", "train", "pod", "m", "uid", "u-m", "phase", "Running"}, 1},
	{"kube_pod_container_resource_requests", []string{"namespace", "train", "pod", "m", "uid", "u-m", "container", "c", "node", "n3", "resource", "nvidia_com_mig_1g_10gb", "unit", "integer"}, 3},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"gpu", "0", "UUID", "GPU-0", "Hostname", "n1", "namespace", "chat", "pod", "p", "container", "c"}, 0.5},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"gpu", "1", "UUID", "GPU-1", "Hostname", "n1", "namespace", "chat", "pod", "p", "container", "c"}, 0.25},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"gpu", "2", "UUID", "GPU-2", "Hostname", "n1", "namespace", "gpu-operator", "pod", "dcgm-exporter-x"}, 0},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"gpu", "0", "UUID", "GPU-M", "GPU_I_PROFILE", "1g.10gb", "GPU_I_ID", "1", "Hostname", "n3", "namespace", "gpu-operator", "pod", "dcgm-exporter-y", "exported_namespace", "train", "exported_pod", "m"}, 0.9},
}

// TestRemotePrometheus computes the same report through the embedded
// engine and through the HTTP API of Debian's real Prometheus (2.42) over
// identical samples, written into Prometheus's store with promtool.
func TestRemotePrometheus(t *testing.T) {
	t.Parallel()
	// Recent enough that Prometheus's retention keeps the block.
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	start := end.Add(-time.Hour)

	// The same samples into the embedded store and an OpenMetrics file.
	st := teststorage.New(t)
	app := st.Appender(t.Context())
	var om strings.Builder
	lastFamily := ""
	for _, s := range remoteSeries {
		if s.name != lastFamily {
			om.WriteString("# TYPE " + s.name + " gauge\n")
			lastFamily = s.name
		}
		ls := labels.FromStrings(append([]string{"__name__", s.name}, s.kv...)...)
		var sel strings.Builder
		for i := 0; i < len(s.kv); i += 2 {
			if i > 0 {
				sel.WriteByte(',')
			}
			sel.WriteString(s.kv[i] + "=" + strconv.Quote(s.kv[i+1]))
		}
		for ts := start; !ts.After(end); ts = ts.Add(time.Minute) {
			if _, err := app.Append(0, ls, ts.UnixMilli(), s.v); err != nil {
				t.Fatal(err)
			}
			om.WriteString(s.name + "{" + sel.String() + "} " + strconv.FormatFloat(s.v, 'g', -1, 64) + " " + strconv.FormatInt(ts.Unix(), 10) + "\n")
		}
	}
	om.WriteString("# EOF\n")
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	url := proc.PrometheusOver(t, om.String())

	remote, err := query.NewRemote(url)
	if err != nil {
		t.Fatal(err)
	}
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	calc := newCalc(t, nil)
	// The hour cut into several range queries, as a long window is.
	chunked := newCalc(t, nil)
	cost.SetChunk(chunked, 13*time.Minute)
	for _, by := range []cost.Aggregate{cost.ByTeam, cost.ByNamespace, cost.ByModel} {
		req := cost.Request{Start: start, End: end, Step: time.Minute, By: by, ShareIdle: true}
		a, err := calc.Compute(t.Context(), eng, req)
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a) // reports always encode
		for _, c := range []*cost.Calculator{calc, chunked} {
			b, err := c.Compute(t.Context(), remote, req)
			if err != nil {
				t.Fatal(err)
			}
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Errorf("by %s: embedded and Prometheus reports differ:\nembedded:   %s\nprometheus: %s", by, ja, jb)
			}
		}
		if by == cost.ByTeam {
			tot := a.Sets[0].Totals
			// chat: 2 GPUs for an hour (the Succeeded pod is not billed);
			// train: 3 MIG slices = 3/7 of a GPU.
			if got, want := tot.AllocatedGPUHours, 2+3.0/7; got < want-1e-9 || got > want+1e-9 {
				t.Errorf("allocated %.6f GPU-hours, want %.6f", got, want)
			}
		}
	}
}

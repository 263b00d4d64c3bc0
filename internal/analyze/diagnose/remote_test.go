package diagnose_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// weekSeries are a week of three pods, constant per series: chat/idle-0
// idle, chat/membound-0 memory-bound at 30% KV usage, chat/queue-0 with a
// queue on a busy GPU.
var weekSeries = []struct {
	name string
	kv   []string
	v    float64
}{
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"Hostname", "n1", "UUID", "GPU-0", "gpu", "0", "modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", "idle-0"}, 0.02},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"Hostname", "n1", "UUID", "GPU-1", "gpu", "1", "modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", "membound-0"}, 0.9},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", []string{"Hostname", "n1", "UUID", "GPU-2", "gpu", "2", "modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", "queue-0"}, 0.95},
	{"DCGM_FI_PROF_DRAM_ACTIVE", []string{"Hostname", "n1", "UUID", "GPU-1", "gpu", "1", "modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", "membound-0"}, 0.8},
	{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", []string{"Hostname", "n1", "UUID", "GPU-1", "gpu", "1", "modelName", "NVIDIA H100 80GB HBM3", "namespace", "chat", "pod", "membound-0"}, 0.1},
	{"vllm:num_requests_running", []string{"namespace", "chat", "pod", "idle-0", "instance", "10.0.0.1:8000", "model_name", "llama-8b"}, 0},
	{"vllm:num_requests_running", []string{"namespace", "chat", "pod", "membound-0", "instance", "10.0.0.2:8000", "model_name", "llama-8b"}, 6},
	{"vllm:num_requests_running", []string{"namespace", "chat", "pod", "queue-0", "instance", "10.0.0.3:8000", "model_name", "qwen-7b"}, 200},
	{"vllm:num_requests_waiting", []string{"namespace", "chat", "pod", "idle-0", "instance", "10.0.0.1:8000", "model_name", "llama-8b"}, 0},
	{"vllm:num_requests_waiting", []string{"namespace", "chat", "pod", "membound-0", "instance", "10.0.0.2:8000", "model_name", "llama-8b"}, 0},
	{"vllm:num_requests_waiting", []string{"namespace", "chat", "pod", "queue-0", "instance", "10.0.0.3:8000", "model_name", "qwen-7b"}, 10},
	{"vllm:kv_cache_usage_perc", []string{"namespace", "chat", "pod", "membound-0", "instance", "10.0.0.2:8000", "model_name", "llama-8b"}, 0.3},
}

// TestRemoteLongWindows diagnoses 48-hour and 7-day windows through the
// embedded engine and through the HTTP API of Debian's real Prometheus
// over identical samples (written into Prometheus's store with promtool):
// both refuse more than 11,000 points per series, both must answer, with
// the same report.
func TestRemoteLongWindows(t *testing.T) {
	t.Parallel()
	const every = 5 * time.Minute
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	start := end.Add(-7*24*time.Hour - time.Hour)

	st := teststorage.New(t)
	app := st.Appender(t.Context())
	var om strings.Builder
	last := ""
	for _, s := range weekSeries {
		if s.name != last {
			om.WriteString("# TYPE " + strings.ReplaceAll(s.name, ":", "_") + " gauge\n")
			last = s.name
		}
		ls := labels.FromStrings(append([]string{"__name__", s.name}, s.kv...)...)
		var sel strings.Builder
		for i := 0; i < len(s.kv); i += 2 {
			if i > 0 {
				sel.WriteByte(',')
			}
			sel.WriteString(s.kv[i] + "=" + strconv.Quote(s.kv[i+1]))
		}
		for ts := start; !ts.After(end); ts = ts.Add(every) {
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
	remote, err := query.NewRemote(proc.PrometheusOver(t, om.String()))
	if err != nil {
		t.Fatal(err)
	}
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 5e7, Timeout: 5 * time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]diagnose.State{"chat/idle-0": diagnose.StateIdle, "chat/membound-0": diagnose.StateMemoryBound, "chat/queue-0": diagnose.StateBacklog}
	for _, window := range []time.Duration{48 * time.Hour, 7 * 24 * time.Hour} {
		var reports []string
		for _, q := range []diagnose.Querier{eng, remote} {
			d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat})
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Diagnose(t.Context(), end, window)
			if err != nil {
				t.Fatalf("%s window: %v", window, err)
			}
			for _, p := range r.Pods {
				if w := want[p.Subject.String()]; p.Primary != w {
					t.Errorf("%s window: %s primary %s, want %s", window, p.Subject, p.Primary, w)
				}
			}
			b, _ := json.Marshal(r) // reports always encode
			reports = append(reports, string(b))
		}
		if reports[0] != reports[1] {
			t.Errorf("%s window: embedded and Prometheus reports differ:\nembedded:   %s\nprometheus: %s", window, reports[0], reports[1])
		}
	}
}

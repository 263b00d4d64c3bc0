package cli

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// topSeries is 20 minutes of four engine pods, scraped every 15s:
//   - chat/llama-a on two GPUs, busy, KV half full, 1000 tokens/s, TTFT
//     p95 in the 0.25–0.5s bucket;
//   - chat/llama-b backlogged: 12 waiting on a 95% busy GPU;
//   - search/mixtral idle on one GPU, nothing running, no TTFT;
//   - search/new, an engine whose GPUs no dcgm series names (no join),
//     scraped only from the 18th minute;
//
// and a GPU no pod holds, which makes no row.
const topSeries = `load 15s
  vllm:num_requests_running{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 40x80
  vllm:num_requests_waiting{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 0x80
  vllm:kv_cache_usage_perc{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 0.5x80
  vllm:generation_tokens_total{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b"} 0+15000x80
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b",le="0.1"} 0+10x80
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b",le="0.25"} 0+30x80
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b",le="0.5"} 0+40x80
  vllm:time_to_first_token_seconds_bucket{namespace="chat",pod="llama-a",instance="10.0.0.1:8000",model_name="llama-8b",le="+Inf"} 0+40x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.8x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.9x80
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.3x80
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="node-1",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.5x80
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{Hostname="node-1",UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.6x80
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{Hostname="node-1",UUID="GPU-2",gpu="1",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-a",container="vllm"} 0.6x80
  vllm:num_requests_running{namespace="chat",pod="llama-b",instance="10.0.0.2:8000",model_name="llama-8b"} 200x80
  vllm:num_requests_waiting{namespace="chat",pod="llama-b",instance="10.0.0.2:8000",model_name="llama-8b"} 12x80
  vllm:kv_cache_usage_perc{namespace="chat",pod="llama-b",instance="10.0.0.2:8000",model_name="llama-8b"} 0.7x80
  vllm:generation_tokens_total{namespace="chat",pod="llama-b",instance="10.0.0.2:8000",model_name="llama-8b"} 0+30000x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-1",UUID="GPU-3",gpu="2",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-b",container="vllm"} 0.95x80
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="node-1",UUID="GPU-3",gpu="2",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-b",container="vllm"} 0.6x80
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{Hostname="node-1",UUID="GPU-3",gpu="2",modelName="NVIDIA H100 80GB HBM3",namespace="chat",pod="llama-b",container="vllm"} 0.7x80
  vllm:num_requests_running{namespace="search",pod="mixtral",instance="10.0.0.3:8000",model_name="mixtral-8x7b"} 0x80
  vllm:num_requests_waiting{namespace="search",pod="mixtral",instance="10.0.0.3:8000",model_name="mixtral-8x7b"} 0x80
  vllm:kv_cache_usage_perc{namespace="search",pod="mixtral",instance="10.0.0.3:8000",model_name="mixtral-8x7b"} 0x80
  vllm:generation_tokens_total{namespace="search",pod="mixtral",instance="10.0.0.3:8000",model_name="mixtral-8x7b"} 0x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-2",UUID="GPU-4",gpu="0",modelName="NVIDIA A100-SXM4-80GB",namespace="search",pod="mixtral",container="vllm"} 0.02x80
  DCGM_FI_PROF_DRAM_ACTIVE{Hostname="node-2",UUID="GPU-4",gpu="0",modelName="NVIDIA A100-SXM4-80GB",namespace="search",pod="mixtral",container="vllm"} 0.01x80
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="node-2",UUID="GPU-5",gpu="1",modelName="NVIDIA A100-SXM4-80GB",namespace="",pod="",container=""} 0x80
  vllm:num_requests_running{namespace="search",pod="new",instance="10.0.0.4:8000",model_name="mixtral-8x7b"} _x72 3x8
  vllm:num_requests_waiting{namespace="search",pod="new",instance="10.0.0.4:8000",model_name="mixtral-8x7b"} _x72 0x8
`

// TestTopRows reads the rows through the embedded engine and through the
// Prometheus HTTP API (the Remote querier an external Prometheus is read
// with): both give the same table.
func TestTopRows(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, topSeries)
	t.Cleanup(func() { st.Close() })
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	srv := httptest.NewServer(api.New(api.Options{Querier: eng}))
	t.Cleanup(srv.Close)
	remote, err := query.NewRemote(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, 0).Add(19*time.Minute + 50*time.Second)
	for _, tc := range []struct {
		name string
		q    diagnose.Querier
	}{{"engine", eng}, {"remote", remote}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			top, err := NewTop(TopOptions{Querier: tc.q, Catalog: cat, Step: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := top.Rows(t.Context(), at)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 4 {
				t.Fatalf("%d rows, want 4: %+v", len(rows), rows)
			}
			var b bytes.Buffer
			if err := RenderTop(&b, TopView{Server: "test", At: at, Interval: 5 * time.Second, Window: top.Window(), Rows: rows, Sort: TopSort{Column: ColDiagnosis}}); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", "top_rows.golden"), b.Bytes())
		})
	}
}

// TestTopDiagnosisCached checks the diagnosis is read again only when the
// window's end moves by a diagnosis step, while values follow every read.
func TestTopDiagnosisCached(t *testing.T) {
	t.Parallel()
	st := promqltest.LoadedStorage(t, topSeries)
	t.Cleanup(func() { st.Close() })
	eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingQuerier{q: eng}
	top, err := NewTop(TopOptions{Querier: c, Catalog: cat, Step: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0).Add(19 * time.Minute)
	var calls []int
	for _, s := range []time.Duration{0, 1, 14, 15} { // the diagnosis step is 15s
		if _, err := top.Rows(t.Context(), base.Add(s*time.Second)); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, int(c.n.Load()))
	}
	per := calls[1] - calls[0] // one live snapshot
	if calls[0] <= per || calls[2]-calls[1] != per || calls[3]-calls[2] <= per {
		t.Errorf("queries after each read %v: want the diagnosis at the first and the last read only", calls)
	}
}

// countingQuerier counts the range queries it passes on (the diagnosis
// asks several at once).
type countingQuerier struct {
	q diagnose.Querier
	n atomic.Int64
}

func (c *countingQuerier) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	c.n.Add(1)
	return c.q.QueryRange(ctx, q, r)
}

func TestNewTopErrors(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := &countingQuerier{}
	for _, tc := range []struct {
		name string
		o    TopOptions
		want string
	}{
		{"no querier", TopOptions{Catalog: cat}, "Querier and Catalog are required"},
		{"short window", TopOptions{Querier: q, Catalog: cat, Window: time.Second}, "window 1s is shorter than the diagnosis step 15s"},
		{"negative step", TopOptions{Querier: q, Catalog: cat, Step: -time.Second}, "step -1s is negative"},
	} {
		if _, err := NewTop(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// viewRows are rows with every kind of value, for the rendering goldens.
func viewRows() []TopRow {
	nan := math.NaN()
	return []TopRow{
		{Namespace: "chat", Pod: "llama-a", Model: "llama-8b", GPUs: 2, Busy: 0.85, MemoryBandwidth: 0.4, KVUsage: 0.5, Running: 40, Waiting: 0, TTFTp95: 0.42, TokensPerSecond: 1000, Diagnosis: diagnose.StateHealthy},
		{Namespace: "chat", Pod: "llama-b", Model: "llama-8b", GPUs: 1, Busy: 0.95, MemoryBandwidth: 0.6, KVUsage: 0.7, Running: 200, Waiting: 12, TTFTp95: 2.5, TokensPerSecond: 2000, Diagnosis: diagnose.StateBacklog, Severity: diagnose.SeverityWarning},
		{Namespace: "search", Pod: "mixtral", Model: "mixtral-8x7b", GPUs: 1, Busy: 0.02, MemoryBandwidth: 0.01, KVUsage: 0, Running: 0, Waiting: 0, TTFTp95: nan, TokensPerSecond: 0, Diagnosis: diagnose.StateIdle, Severity: diagnose.SeverityWarning},
		{Namespace: "search", Pod: "new", Model: "mixtral-8x7b", Busy: nan, MemoryBandwidth: nan, KVUsage: nan, Running: 3, Waiting: 0, TTFTp95: math.Inf(1), TokensPerSecond: nan},
	}
}

func TestRenderTop(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	base := TopView{Server: "http://127.0.0.1:9464", At: at, Interval: 15 * time.Second, Window: 15 * time.Minute, Rows: viewRows()}
	with := func(f func(*TopView)) TopView { v := base; f(&v); return v }
	var out bytes.Buffer
	for _, tc := range []struct {
		name string
		v    TopView
	}{
		{"diagnosis (the default)", with(func(v *TopView) { v.Sort = TopSort{Column: ColDiagnosis} })},
		{"pod", with(func(v *TopView) { v.Sort = TopSort{Column: ColPod} })},
		{"pod reversed", with(func(v *TopView) { v.Sort = TopSort{Column: ColPod, Reverse: true} })},
		{"busy", with(func(v *TopView) { v.Sort = TopSort{Column: ColBusy} })},
		{"busy reversed (missing last)", with(func(v *TopView) { v.Sort = TopSort{Column: ColBusy, Reverse: true} })},
		{"ttft", with(func(v *TopView) { v.Sort = TopSort{Column: ColTTFT} })},
		{"model then pod", with(func(v *TopView) { v.Sort = TopSort{Column: ColModel, Reverse: true} })},
		{"keys, 60 columns, 9 lines: all fit", with(func(v *TopView) { v.Keys, v.Width, v.Height = true, 60, 9 })},
		{"keys, 8 lines: one more", with(func(v *TopView) { v.Keys, v.Height = true, 8 })},
		{"3 lines", with(func(v *TopView) { v.Keys, v.Height = true, 3 })},
		{"error keeps the rows", with(func(v *TopView) { v.Err = errors.New("query: connection refused\nretrying") })},
		{"before the first read", TopView{Server: "http://127.0.0.1:9464", Keys: true}},
		{"no pods", with(func(v *TopView) { v.Rows = nil })},
		{"keys, 7 lines, scrolled by one", with(func(v *TopView) { v.Keys, v.Height, v.Offset = true, 7, 1 })},
		{"keys, 7 lines, offset past the end is clamped", with(func(v *TopView) { v.Keys, v.Height, v.Offset = true, 7, 99 })},
		{"filter by model", with(func(v *TopView) { v.Filter = "LLAMA" })},
		{"filter by namespace, typing", with(func(v *TopView) { v.Filter, v.Typing = "sear", true })},
		{"filter matching nothing", with(func(v *TopView) { v.Filter = "gpt" })},
		// Two clusters' pods of one name: each named cluster:namespace/pod.
		{"two clusters", with(func(v *TopView) {
			v.Rows = append(slices.Clone(v.Rows[:1]), v.Rows[0])
			v.Rows[0].Cluster, v.Rows[1].Cluster = "us-1", "eu-1"
			v.Sort = TopSort{Column: ColPod}
		})},
	} {
		rows := slices.Clone(tc.v.Rows)
		out.WriteString("== " + tc.name + "\n")
		if err := RenderTop(&out, tc.v); err != nil {
			t.Fatal(err)
		}
		if tc.v.Rows != nil && !equalRows(rows, tc.v.Rows) {
			t.Errorf("%s: RenderTop reordered the caller's rows", tc.name)
		}
	}
	golden.Compare(t, filepath.Join("testdata", "top_render.golden"), out.Bytes())
}

func equalRows(a, b []TopRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if podName(a[i]) != podName(b[i]) {
			return false
		}
	}
	return true
}

func TestTopSort(t *testing.T) {
	t.Parallel()
	s := TopSort{Column: ColDiagnosis, Reverse: true}
	if got := s.Next(1); got != (TopSort{Column: ColPod}) {
		t.Errorf("next after the last column: %+v", got)
	}
	if got := (TopSort{Column: ColPod}).Next(-1); got != (TopSort{Column: ColDiagnosis}) {
		t.Errorf("previous before the first column: %+v", got)
	}
	for i, name := range TopColumnNames() {
		c, err := ParseTopColumn(name)
		if err != nil || c != TopColumn(i) {
			t.Errorf("ParseTopColumn(%q) = %d, %v", name, c, err)
		}
	}
	if _, err := ParseTopColumn("cpu"); err == nil {
		t.Error("ParseTopColumn(cpu): no error")
	}
}

// TestQueueLine: top's queue section names each queue that is not healthy
// with its admission wait p95 and GPUs pending ("not reported" where
// Kueue has none), then counts the healthy ones.
func TestQueueLine(t *testing.T) {
	t.Parallel()
	q := func(name string, st diagnose.State, p95 diagnose.Reading, pending diagnose.Reading) diagnose.QueueStatus {
		return diagnose.QueueStatus{Subject: diagnose.Subject{Level: diagnose.LevelQueue, ClusterQueue: name}, Primary: st, WaitP95: p95, PendingGPUs: pending}
	}
	got := queueLine([]diagnose.QueueStatus{
		q("nlp", diagnose.StateStrandedQuota, diagnose.Reading{Value: 624, Reported: true}, diagnose.Reading{Value: 8, Reported: true}),
		q("old", diagnose.StateQuotaStarved, diagnose.Reading{}, diagnose.Reading{}),
		q("vision", diagnose.StateHealthy, diagnose.Reading{}, diagnose.Reading{}),
	})
	want := "queues: nlp stranded_quota (wait p95 10m24s, GPUs pending 8); old quota_starved (wait p95 not reported, GPUs pending not reported); 1 healthy"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if queueLine(nil) != "" {
		t.Error("a queue line without queues")
	}
}

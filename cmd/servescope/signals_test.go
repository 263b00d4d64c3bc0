package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSignalsCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"signals"}, 0, []string{"kv_cache_usage_ratio", "servescope:gpu_busy_ratio:avg", "team_used_gpus"}},
		{[]string{"signals", "--level", "queue"}, 0, []string{"queue_nominal_quota_gpus"}},
		{[]string{"explain", "kv_cache_usage_ratio"}, 0, []string{"source 2: vllm V0, V1 <0.11", "vllm:gpu_cache_usage_perc", "combined", "servescope:kv_cache_usage_ratio:out_of_range"}},
		{[]string{"explain", "team_used_gpus"}, 0, []string{"rolled up through the topology join from namespace_used_gpus, else queue_used_gpus"}},
		{[]string{"explain", "no_such_signal"}, 1, nil},
		{[]string{"rules", "--interval", "1m"}, 0, []string{"groups:", "interval: 1m", "record: servescope:ttft_seconds:p95"}},
		{[]string{"rules", "--team-label", "cost-center"}, 0, []string{`label_cost_center!=""`}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := run(t.Context(), tc.args, env{stdout: &out, stderr: &errb})
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
		})
	}
}

// TestSignalsUnmatched serves a Prometheus-style API with three targets, one
// of an exporter the catalog does not know, and expects only that one.
func TestSignalsUnmatched(t *testing.T) {
	t.Parallel()
	names := map[string][]string{
		`{job="vllm",instance="10.0.0.1:8000"}`:   {"vllm:num_requests_running", "vllm:prompt_tokens_created", "python_info"},
		`{job="dcgm",instance="10.0.0.2:9400"}`:   {"DCGM_FI_DEV_GPU_UTIL", "go_goroutines"},
		`{job="triton",instance="10.0.0.3:8002"}`: {"nv_inference_request_success", "nv_gpu_utilization"},
	}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, data any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data}) // test server
	}
	mux.HandleFunc("/api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		var ts []map[string]any
		for _, p := range [][2]string{{"vllm", "10.0.0.1:8000"}, {"dcgm", "10.0.0.2:9400"}, {"triton", "10.0.0.3:8002"}} {
			ts = append(ts, map[string]any{"labels": map[string]string{"job": p[0], "instance": p[1]}, "health": "up", "scrapeUrl": "http://" + p[1] + "/metrics",
				"seriesScraped": 40, "seriesKept": 0}) // servescope stores nothing of an exporter nothing reads
		}
		reply(w, map[string]any{"activeTargets": ts})
	})
	mux.HandleFunc("/api/v1/label/__name__/values", func(w http.ResponseWriter, r *http.Request) {
		reply(w, names[r.FormValue("match[]")])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"signals", "--unmatched", "--server", srv.URL}, env{stdout: &out, stderr: &errb}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	if !strings.Contains(got, "triton") || !strings.Contains(got, "1 of 3 targets unrecognised") || !strings.Contains(got, "40/0") {
		t.Errorf("output:\n%s\nwant the triton target and 1 of 3 unrecognised", got)
	}
	if strings.Contains(got, "10.0.0.1:8000") || strings.Contains(got, "10.0.0.2:9400") {
		t.Errorf("recognised targets listed:\n%s", got)
	}
}

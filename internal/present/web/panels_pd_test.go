package web

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/testutil/script"
)

// pdLoad is a disaggregated model: two prefill pods queueing on busy GPUs
// and two decode pods nearly idle, roles from llm-d's pod label, NIXL
// transfer counters on the decode pods, and a unified pod without a role.
const pdLoad = `
load 15s
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-1",gpu="0",modelName="H100",namespace="serve",pod="p-0",container="vllm"} 0.9x60
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-2",gpu="1",modelName="H100",namespace="serve",pod="p-1",container="vllm"} 0.7x60
  DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="n1",UUID="GPU-3",gpu="2",modelName="H100",namespace="serve",pod="d-0",container="vllm"} 0.1x60
  vllm:num_requests_running{namespace="serve",pod="p-0",instance="a:8000",model_name="m",engine="0"} 8x60
  vllm:num_requests_running{namespace="serve",pod="p-1",instance="b:8000",model_name="m",engine="0"} 8x60
  vllm:num_requests_running{namespace="serve",pod="d-0",instance="c:8000",model_name="m",engine="0"} 3x60
  vllm:num_requests_running{namespace="serve",pod="u-0",instance="d:8000",model_name="m",engine="0"} 5x60
  vllm:num_requests_waiting{namespace="serve",pod="p-0",instance="a:8000",model_name="m",engine="0"} 12x60
  vllm:num_requests_waiting{namespace="serve",pod="p-1",instance="b:8000",model_name="m",engine="0"} 6x60
  vllm:num_requests_waiting{namespace="serve",pod="d-0",instance="c:8000",model_name="m",engine="0"} 0x60
  vllm:nixl_xfer_time_seconds_sum{namespace="serve",pod="d-0",instance="c:8000",model_name="m",engine="0"} 0+0.5x60
  vllm:nixl_xfer_time_seconds_count{namespace="serve",pod="d-0",instance="c:8000",model_name="m",engine="0"} 0+1x60
  kube_pod_labels{namespace="serve",pod="p-0",uid="1",label_llm_d_ai_role="prefill"} 1x60
  kube_pod_labels{namespace="serve",pod="p-1",uid="2",label_llm_d_ai_role="prefill"} 1x60
  kube_pod_labels{namespace="serve",pod="d-0",uid="3",label_llm_d_ai_role="decode"} 1x60
`

// TestPDPanels: the pools table puts prefill and decode side by side with
// their pods, busy and queues (tokens not reported, never 0); the unified
// pod is in neither; the KV
// transfer panel draws the decode pod's transfer time.
func TestPDPanels(t *testing.T) {
	s, err := script.ParseBytes("pd.test", []byte(pdLoad))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := newTest(t, script.Engine(t, s), nil)
	_, body := get(t, srv.URL+"/serving?"+url.Values{"end": {"1970-01-01T00:15:00Z"}, "range": {"15m"}}.Encode())
	i := strings.Index(body, `id="pd-pools"`)
	if i < 0 {
		t.Fatalf("no pd-pools panel:\n%s", body)
	}
	panel := body[i:]
	panel = panel[:strings.Index(panel, "</section>")+1]
	cell := regexp.MustCompile(`<td[^>]*>([^<]*)</td>`)
	var rows [][]string
	for _, tr := range strings.Split(panel, "<tr")[1:] {
		var row []string
		for _, m := range cell.FindAllStringSubmatch(tr, -1) {
			row = append(row, m[1])
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	want := [][]string{
		{"serve", "m", "decode", "1", "10%", "3", "0", "not reported", "not reported"},
		{"serve", "m", "prefill", "2", "80%", "16", "18", "not reported", "not reported"},
	}
	if len(rows) != len(want) {
		t.Fatalf("pd-pools rows %q, want %d rows", rows, len(want))
	}
	for r, w := range want {
		for c := range w {
			if !strings.HasPrefix(rows[r][c], w[c]) {
				t.Errorf("row %d column %d = %q, want %q (row %q)", r, c, rows[r][c], w[c], rows[r])
			}
		}
	}
	j := strings.Index(body, `id="kv-transfer-latency"`)
	if j < 0 || !strings.Contains(body[j:j+strings.Index(body[j:], "</section>")], `data-state="ok"`) {
		t.Errorf("kv-transfer-latency panel without data")
	}
}

package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// alertmanagerProcess runs Debian's prometheus-alertmanager on a free
// loopback port, clustering off.
func alertmanagerProcess(t *testing.T) string {
	t.Helper()
	cfg := "route:\n  receiver: sink\n  group_wait: 0s\n  group_interval: 1s\nreceivers:\n  - name: sink\n"
	return daemon(t, "prometheus-alertmanager", "prometheus-alertmanager", cfg, func(addr, dir, cfg string) []string {
		return []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr, "--cluster.listen-address="}
	})
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// TestAlertsReachAlertmanager drives a KV-cache-saturated vLLM target: the
// catalog's recording rules and the diagnosis's alerting rules run in the
// embedded rule manager, the alerts reach a real Alertmanager through its
// API v2 with their labels and annotations, /api/v1/alerts and
// /api/v1/rules show them, and a second, unreachable Alertmanager only
// costs counted errors: evaluation goes on.
func TestAlertsReachAlertmanager(t *testing.T) {
	// Not parallel: it needs the rule manager evaluating every second in
	// real time, which the package's CPU-heavy parallel tests would starve.
	am := alertmanagerProcess(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"llama\"} 0.95\n"+
			"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"llama\"} 12\n")
	}))
	defer target.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens here

	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
servescope:
  diagnosis:
    kv_high_for: 2s
    kv_saturated_for: 2s
alerting:
  alertmanagers:
    - static_configs: [{targets: ['%s']}]
    - static_configs: [{targets: ['%s']}]
scrape_configs:
  - job_name: vllm
    static_configs: [{targets: ['%s'], labels: {namespace: chat, pod: vllm-0}}]
`, am, deadAddr, strings.TrimPrefix(target.URL, "http://"))
	s := start(t, yml, t.TempDir())

	var got []amAlert
	proc.Eventually(t, "KVCacheHigh and KVCacheSaturated in Alertmanager", 60*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + am + "/api/v2/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		got = nil
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			return false, err.Error()
		}
		names := map[string]bool{}
		for _, a := range got {
			names[a.Labels["alertname"]] = true
		}
		return names["KVCacheHigh"] && names["KVCacheSaturated"], fmt.Sprint(names)
	})
	for _, a := range got {
		if a.Labels["alertname"] != "KVCacheHigh" {
			continue
		}
		if a.Labels["severity"] != "warning" || a.Labels["namespace"] != "chat" || a.Labels["pod"] != "vllm-0" || a.Status.State != "active" {
			t.Errorf("KVCacheHigh labels %v, state %s", a.Labels, a.Status.State)
		}
		if a.Annotations["summary"] != "KV cache of chat/vllm-0 above 85%" || !strings.Contains(a.Annotations["description"], "95%") {
			t.Errorf("KVCacheHigh annotations %v", a.Annotations)
		}
	}

	// Prometheus's shape for rules and alerts.
	code, r := s.get(t, "/api/v1/alerts", nil)
	if code != 200 || !strings.Contains(string(r.Data), `"alertname":"KVCacheSaturated"`) || !strings.Contains(string(r.Data), `"state":"firing"`) {
		t.Errorf("/api/v1/alerts: %d %s", code, r.Data)
	}
	code, r = s.get(t, "/api/v1/rules", nil)
	if code != 200 || !strings.Contains(string(r.Data), `"type":"alerting"`) || !strings.Contains(string(r.Data), `"name":"servescope:kv_cache_usage_ratio:avg"`) {
		t.Errorf("/api/v1/rules: %d %.500s", code, r.Data)
	}

	// The unreachable Alertmanager: errors counted, evaluation goes on.
	errs := regexp.MustCompile(`prometheus_notifications_errors_total\{alertmanager="http://` + regexp.QuoteMeta(deadAddr) + `/api/v2/alerts"\} (\S+)`)
	proc.Eventually(t, "errors to the unreachable Alertmanager counted", 30*time.Second, func() (bool, string) {
		resp, err := http.Get(s.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := errs.FindSubmatch(body)
		if m == nil {
			return false, "no error counter for " + deadAddr
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		return n > 0, string(m[0])
	})
	proc.Eventually(t, "rules keep evaluating", 30*time.Second, func() (bool, string) {
		got := s.query(t, `count_over_time(servescope:kv_cache_usage_ratio:avg[5s])`)
		for _, v := range got {
			n, _ := strconv.Atoi(v)
			return n >= 3, v
		}
		return false, "no recorded samples"
	})
}

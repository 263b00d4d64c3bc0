package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/discovery/kubernetes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestKubernetesPodsScraped runs serve with kubernetes_sd_configs on
// client-go's fake clientset: the annotated pod is discovered and scraped,
// relabel_configs and metric_relabel_configs apply, an OpenMetrics target
// is read, and a query over --query.max-samples fails with Prometheus's
// error.
func TestKubernetesPodsScraped(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/vllm/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		io.WriteString(w, "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=\"llama\"} 2\n# TYPE vllm:request_success counter\nvllm:request_success_total{model_name=\"llama\"} 5\nvllm:request_success_created{model_name=\"llama\"} 1.7e+09\n# EOF\n")
	})
	target := httptest.NewServer(mux)
	defer target.Close()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	pods := []*corev1.Pod{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "serving", Name: "vllm-0", Labels: map[string]string{"team": "search"},
				Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/vllm/metrics"}},
			Status: corev1.PodStatus{PodIP: "127.0.0.1", Phase: corev1.PodRunning},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: "serving", Name: "not-annotated"},
			Status:     corev1.PodStatus{PodIP: "127.0.0.2", Phase: corev1.PodRunning},
		},
	}
	client := fake.NewClientset(pods[0], pods[1])

	dir := t.TempDir()
	yml := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        namespaces: {names: [serving]}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_label_team]
        target_label: team
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: '.*_created'
        action: drop
`
	cfgFile := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(cfgFile, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{
		ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), ListenAddress: "127.0.0.1:0",
		QueryTimeout: time.Minute, QueryMaxSamples: 10,
		KubeClient: func(*kubernetes.SDConfig) (k8s.Interface, error) { return client, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	s := &started{srv: srv, base: "http://" + srv.Addr()}

	proc.Eventually(t, "annotated pod scraped with its relabelled labels", 30*time.Second, func() (bool, string) {
		got := s.query(t, `vllm:num_requests_waiting{namespace="serving",pod="vllm-0",team="search"}`)
		return len(got) == 1, fmt.Sprint(got)
	})
	if got := s.query(t, `up{pod="not-annotated"}`); len(got) != 0 {
		t.Errorf("a pod without prometheus.io/scrape was scraped: %v", got)
	}
	if got := s.query(t, `{__name__=~".*_created"}`); len(got) != 0 {
		t.Errorf("metric_relabel_configs did not drop _created series: %v", got)
	}
	if got := s.query(t, `vllm:request_success_total`); len(got) != 1 {
		t.Errorf("OpenMetrics counter not stored: %v", got)
	}
	now := time.Now()
	code, r := s.get(t, "/api/v1/query_range", url.Values{"query": {`up`}, "start": {now.Add(-time.Minute).Format(time.RFC3339Nano)}, "end": {now.Add(time.Minute).Format(time.RFC3339Nano)}, "step": {"0.1"}})
	if code != 422 || r.ErrorType != "execution" || !strings.Contains(r.Error, "too many samples") {
		t.Errorf("query over --query.max-samples: %d %s %s", code, r.ErrorType, r.Error)
	}
}

package expo

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestScrape(t *testing.T) {
	b := []byte(`# TYPE ttft histogram
ttft_bucket{le="+Inf",namespace="a"} 2
ttft_sum{namespace="a"} 0.5
ttft_count{namespace="a"} 2
# TYPE lat summary
lat{quantile="0.5"} 0.1
lat_sum 3
lat_count 9
# TYPE tokens_total counter
tokens_total 7
# TYPE running gauge
running 3
untyped 1
`)
	target := labels.FromStrings("job", "vllm", "namespace", "serving")
	got := Scrape(t, b, target, false)
	want := []struct {
		labels     string
		cumulative bool
	}{
		{`{__name__="ttft_bucket", exported_namespace="a", job="vllm", le="+Inf", namespace="serving"}`, true},
		{`{__name__="ttft_sum", exported_namespace="a", job="vllm", namespace="serving"}`, true},
		{`{__name__="ttft_count", exported_namespace="a", job="vllm", namespace="serving"}`, true},
		{`{__name__="lat", job="vllm", namespace="serving", quantile="0.5"}`, false},
		{`{__name__="lat_sum", job="vllm", namespace="serving"}`, true},
		{`{__name__="lat_count", job="vllm", namespace="serving"}`, true},
		{`{__name__="tokens_total", job="vllm", namespace="serving"}`, true},
		{`{__name__="running", job="vllm", namespace="serving"}`, false},
		{`{__name__="untyped", job="vllm", namespace="serving"}`, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Labels.String() != w.labels || got[i].Cumulative() != w.cumulative {
			t.Errorf("sample %d: %s cumulative %t, want %s %t", i, got[i].Labels, got[i].Cumulative(), w.labels, w.cumulative)
		}
	}
	// honor_labels: the exposed namespace wins; Parse attaches nothing.
	if h := Scrape(t, b, target, true); h[0].Labels.Get("namespace") != "a" || h[0].Labels.Has("exported_namespace") {
		t.Errorf("honor_labels true: %s", h[0].Labels)
	}
	if p := Parse(t, b); p[0].Labels.Has("job") || p[0].Family != "ttft" {
		t.Errorf("Parse: %s family %q", p[0].Labels, p[0].Family)
	}
}

package parse

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// samplesDir is where the shared real captures live beside the repository.
const samplesDir = "../../../../shared/samples"

func sampleFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.prom"))
	if len(files) == 0 {
		t.Skipf("no real captures in %s (it sits beside the repository on developer and CI machines, not in a user's clone)", samplesDir)
	}
	return files
}

// TestSharedSamples parses every real capture, in both formats that can
// carry it, and checks that every sample line became a sample.
func TestSharedSamples(t *testing.T) {
	for _, f := range sampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, l := range strings.Split(string(body), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					want++
				}
			}
			got := 0
			names := map[string]bool{}
			err = Each(body, "", func(s Sample) error {
				got++
				names[s.Labels.Get(model.MetricNameLabel)] = true
				return nil
			})
			if err != nil {
				t.Fatalf("parse %s: %v", f, err)
			}
			if got != want {
				t.Errorf("parsed %d samples, want %d (one per sample line)", got, want)
			}
		})
	}
}

type collect struct {
	samples []Sample
	commits int
}

func (c *collect) Append(ls labels.Labels, t int64, v float64) error {
	c.samples = append(c.samples, Sample{Labels: ls, T: t, V: v})
	return nil
}
func (c *collect) AppendHistogram(ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) error {
	c.samples = append(c.samples, Sample{Labels: ls, T: t, H: h, FH: fh})
	return nil
}
func (c *collect) Commit() error   { c.commits++; return nil }
func (c *collect) Rollback() error { return nil }

func TestIngest(t *testing.T) {
	body := []byte(`# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="llama",namespace="exported"} 3
vllm:kv_cache_usage_perc{engine="0",model_name="llama"} NaN
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="llama"} 7 1700000000000
vllm:request_success_created{model_name="llama",finished_reason="stop"} 1.7e+09
`)
	var c collect
	target := labels.FromStrings("job", "vllm", "namespace", "serving", "pod", "p-0")
	n, err := Ingest(&c, body, TextContentType, target, 42, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || len(c.samples) != 4 {
		t.Fatalf("ingested %d samples, want 4", n)
	}
	tests := []struct {
		i    int
		want string
		t    int64
	}{
		{0, `{__name__="vllm:num_requests_running", engine="0", exported_namespace="exported", job="vllm", model_name="llama", namespace="serving", pod="p-0"}`, 42},
		{1, `{__name__="vllm:kv_cache_usage_perc", engine="0", job="vllm", model_name="llama", namespace="serving", pod="p-0"}`, 42},
		{2, `{__name__="vllm:e2e_request_latency_seconds_bucket", job="vllm", le="+Inf", model_name="llama", namespace="serving", pod="p-0"}`, 1700000000000},
		{3, `{__name__="vllm:request_success_created", finished_reason="stop", job="vllm", model_name="llama", namespace="serving", pod="p-0"}`, 42},
	}
	for _, tt := range tests {
		s := c.samples[tt.i]
		if s.Labels.String() != tt.want || s.T != tt.t {
			t.Errorf("sample %d = %s @%d, want %s @%d", tt.i, s.Labels, s.T, tt.want, tt.t)
		}
	}
	if !math.IsNaN(c.samples[1].V) {
		t.Errorf("NaN sample became %v", c.samples[1].V)
	}

	// honor_labels true: the exposed namespace wins, target labels fill the rest.
	var h collect
	if _, err := Ingest(&h, []byte(`vllm:num_requests_running{engine="0",model_name="llama",namespace="exported"} 3`+"\n"), TextContentType, target, 42, true); err != nil {
		t.Fatal(err)
	}
	want := `{__name__="vllm:num_requests_running", engine="0", job="vllm", model_name="llama", namespace="exported", pod="p-0"}`
	if len(h.samples) == 0 || h.samples[0].Labels.String() != want {
		t.Errorf("honor_labels true: %v, want %s", h.samples, want)
	}
}

// TestFamilies: every sample carries the family and type of the # TYPE
// line it follows, in both formats; a series with no # TYPE line of its
// own (or one that only shares a prefix with the last family) has none.
func TestFamilies(t *testing.T) {
	text := `# TYPE ttft histogram
ttft_bucket{le="1"} 1
ttft_bucket{le="+Inf"} 2
ttft_sum 0.5
ttft_count 2
# TYPE tokens_total counter
tokens_total 7
tokens_total_created 1.7e+09
# TYPE up gauge
up 1
uptime 3
loose 4
`
	om := `# TYPE tokens counter
tokens_total 7
tokens_created 1.7e+09
# TYPE build info
build_info{v="1"} 1
# EOF
`
	type fam struct {
		name, family string
		typ          model.MetricType
	}
	tests := []struct {
		body, contentType string
		want              []fam
	}{
		{text, TextContentType, []fam{
			{"ttft_bucket", "ttft", model.MetricTypeHistogram}, {"ttft_bucket", "ttft", model.MetricTypeHistogram},
			{"ttft_sum", "ttft", model.MetricTypeHistogram}, {"ttft_count", "ttft", model.MetricTypeHistogram},
			{"tokens_total", "tokens_total", model.MetricTypeCounter}, {"tokens_total_created", "tokens_total", model.MetricTypeCounter},
			{"up", "up", model.MetricTypeGauge}, {"uptime", "", ""}, {"loose", "", ""},
		}},
		{om, OpenMetricsContentType, []fam{
			{"tokens_total", "tokens", model.MetricTypeCounter}, {"tokens_created", "tokens", model.MetricTypeCounter},
			{"build_info", "build", model.MetricTypeInfo},
		}},
	}
	for _, tt := range tests {
		var got []fam
		err := Each([]byte(tt.body), tt.contentType, func(s Sample) error {
			got = append(got, fam{s.Labels.Get(model.MetricNameLabel), s.Family, s.Type})
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tt.contentType, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tt.contentType, got, tt.want)
		}
	}
}

func TestErrorLine(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		line        int
	}{
		{"bad label", TextContentType, "# HELP a A.\n# TYPE a gauge\na 1\nb{x=\"1\" 2\nc 3\n", 4},
		{"bad value", TextContentType, "a 1\nb 2\nc one\n", 3},
		{"first line", TextContentType, "{{{\n", 1},
		{"duplicate prefix", TextContentType, "a{x=\"1\"} 1\na{x=\"1\"\n", 2},
		{"openmetrics missing EOF", OpenMetricsContentType, "# TYPE a gauge\na 1\n", 3},
		{"openmetrics bad line", OpenMetricsContentType, "# TYPE a gauge\na 1\na{ 2\n# EOF\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Each([]byte(tt.body), tt.contentType, func(Sample) error { return nil })
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a located parse error", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("message %q does not start with the line", err)
			}
		})
	}
}

func FuzzEach(f *testing.F) {
	f.Add([]byte("a{b=\"c\"} 1 1000\n"), false, false)
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n# EOF\n"), true, true)
	f.Add([]byte("vllm:x{engine=\"0\"} NaN\n"), false, false)
	if files, _ := filepath.Glob(filepath.Join(samplesDir, "*.prom")); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, false, true)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, om, honor bool) {
		ct := TextContentType
		if om {
			ct = OpenMetricsContentType
		}
		var c collect
		n, err := Ingest(&c, body, ct, labels.FromStrings("job", "fuzz"), 1, honor)
		if n != len(c.samples) {
			t.Fatalf("reported %d samples, appended %d", n, len(c.samples))
		}
		var pe *Error
		if errors.As(err, &pe) {
			lines := strings.Count(string(body), "\n") + 2
			if pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error line %d outside 1..%d", pe.Line, lines)
			}
		}
		for _, s := range c.samples {
			if s.Labels.Get("job") == "" || !honor && s.Labels.Get("job") != "fuzz" {
				t.Fatalf("sample %s lost its target label", s.Labels)
			}
		}
	})
}

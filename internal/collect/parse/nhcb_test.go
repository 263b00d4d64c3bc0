package parse

import (
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// TestIngestNHCB reads one exposition both ways: classic, every bucket,
// sum and count a series; converted, one native histogram with custom
// buckets per series, carrying the same bounds, counts, sum and count, and
// the floats around it unchanged.
func TestIngestNHCB(t *testing.T) {
	body := []byte(`# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="llama"} 3
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="llama"} 2
vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="llama"} 5
vllm:time_to_first_token_seconds_bucket{le="2.5",model_name="llama"} 9
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="llama"} 10
vllm:time_to_first_token_seconds_sum{model_name="llama"} 6.5
vllm:time_to_first_token_seconds_count{model_name="llama"} 10
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{model_name="llama"} 123
`)
	target := labels.FromStrings("job", "vllm", "pod", "p-0")
	var classic, native collect
	nc, err := IngestWith(&classic, body, TextContentType, Options{}, target, 42, false)
	if err != nil {
		t.Fatal(err)
	}
	nn, err := IngestWith(&native, body, TextContentType, Options{ConvertNHCB: true}, target, 42, false)
	if err != nil {
		t.Fatal(err)
	}
	if nc != 8 || nn != 3 {
		t.Fatalf("samples: %d classic (want 8), %d converted (want 3)", nc, nn)
	}
	var names []string
	for _, s := range native.samples {
		names = append(names, s.Labels.Get(model.MetricNameLabel))
	}
	if want := []string{"vllm:num_requests_running", "vllm:time_to_first_token_seconds", "vllm:generation_tokens_total"}; !slices.Equal(names, want) {
		t.Fatalf("converted series %v, want %v", names, want)
	}
	h := native.samples[1]
	if h.H == nil && h.FH == nil {
		t.Fatalf("%s: no histogram", h.Labels)
	}
	if want := `{__name__="vllm:time_to_first_token_seconds", job="vllm", model_name="llama", pod="p-0"}`; h.Labels.String() != want || h.T != 42 {
		t.Errorf("histogram series %s @%d, want %s @42", h.Labels, h.T, want)
	}
	fh := h.FH
	if fh == nil {
		fh = h.H.ToFloat(nil)
	}
	if !fh.UsesCustomBuckets() || !slices.Equal(fh.CustomValues, []float64{0.1, 0.5, 2.5}) {
		t.Errorf("custom bounds %v, want [0.1 0.5 2.5]", fh.CustomValues)
	}
	if fh.Count != 10 || fh.Sum != 6.5 {
		t.Errorf("count %v sum %v, want 10 and 6.5", fh.Count, fh.Sum)
	}
	var cum []float64
	total := 0.0
	for it := fh.PositiveBucketIterator(); it.Next(); {
		total += it.At().Count
		cum = append(cum, total)
	}
	if want := []float64{2, 5, 9, 10}; !slices.Equal(cum, want) {
		t.Errorf("cumulative bucket counts %v, want %v (the classic le series)", cum, want)
	}
	if v := native.samples[2].V; v != 123 {
		t.Errorf("counter after the histogram: %v, want 123", v)
	}
}

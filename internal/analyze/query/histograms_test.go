package query

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestEngineHistograms: a query selecting native histograms with custom
// buckets (the stored form of classic histograms) answers with them, each
// non-empty bucket with its bounds, as Prometheus's API writes them;
// floats beside them are unchanged.
func TestEngineHistograms(t *testing.T) {
	e := newEngine(t, `
load 15s
  ttft{pod="a"} {{schema:-53 sum:6.5 count:10 custom_values:[0.1 0.5 2.5] buckets:[2 3 4 1]}}x20
  up{pod="b"} 1x20
`, 1e6)
	at := time.Unix(150, 0)
	res, err := e.Query(t.Context(), `ttft or up`, at)
	if err != nil {
		t.Fatal(err)
	}
	vec := res.Value.(model.Vector)
	if len(vec) != 2 {
		t.Fatalf("instant: %v, want the histogram and up", vec)
	}
	var h *model.SampleHistogram
	for _, s := range vec {
		if s.Metric[model.MetricNameLabel] == "ttft" {
			h = s.Histogram
		} else if s.Value != 1 || s.Histogram != nil {
			t.Errorf("float sample %v", s)
		}
	}
	if h == nil {
		t.Fatalf("no histogram in %v", vec)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	// Prometheus's /api/v1/query writes the same histogram so (util/jsonutil.MarshalHistogram).
	want := `{"count":"10","sum":"6.5","buckets":[[3,"-Inf","0.1","2"],[0,"0.1","0.5","3"],[0,"0.5","2.5","4"],[0,"2.5","+Inf","1"]]}`
	if string(b) != want {
		t.Errorf("histogram %s\nwant      %s", b, want)
	}

	res, err = e.QueryRange(t.Context(), `ttft`, Range{Start: time.Unix(0, 0), End: at, Step: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Value.(model.Matrix)
	if len(m) != 1 || len(m[0].Histograms) != 6 || len(m[0].Values) != 0 || m[0].Histograms[5].Histogram.Count != 10 {
		t.Errorf("range: %v", m)
	}
}

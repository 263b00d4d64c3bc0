package query

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/promqltest"
)

func newEngine(t *testing.T, load string, maxSamples int) *Engine {
	t.Helper()
	st := promqltest.LoadedStorage(t, load)
	t.Cleanup(func() { st.Close() })
	return NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: maxSamples, Registerer: prometheus.NewRegistry()})
}

const load = `
load 15s
  vllm:num_requests_running{pod="a",model_name="llama"} 1+1x40
  vllm:num_requests_running{pod="b",model_name="llama"} 5x40
  vllm:generation_tokens_total{pod="a",model_name="llama"} 0+150x40
`

func TestEngine(t *testing.T) {
	e := newEngine(t, load, 1e6)
	ctx := t.Context()
	at := time.Unix(300, 0)

	res, err := e.Query(ctx, `sum by (model_name) (vllm:num_requests_running)`, at)
	if err != nil {
		t.Fatal(err)
	}
	vec := res.Value.(model.Vector)
	if len(vec) != 1 || vec[0].Value != 26 || vec[0].Timestamp != model.TimeFromUnix(300) {
		t.Errorf("instant: %v", vec)
	}

	res, err = e.QueryRange(ctx, `rate(vllm:generation_tokens_total[1m])`, Range{Start: time.Unix(120, 0), End: time.Unix(240, 0), Step: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mat := res.Value.(model.Matrix)
	if len(mat) != 1 || len(mat[0].Values) != 5 || math.Abs(float64(mat[0].Values[0].Value)-10) > 1e-9 {
		t.Errorf("range: %v", mat)
	}

	// rate() of a gauge is answered, with the engine's info annotation.
	res, err = e.Query(ctx, `rate(vllm:num_requests_running[1m])`, at)
	if err != nil || len(res.Infos) == 0 {
		t.Errorf("rate of a gauge: err %v, infos %v", err, res.Infos)
	}

	for _, tt := range []struct {
		q    string
		want ErrorType
	}{
		{`sum(rate(x[1m])`, ErrBadData},
		{`vllm:num_requests_running + on() vllm:num_requests_running`, ErrExec},
	} {
		_, err := e.Query(ctx, tt.q, at)
		if TypeOf(err) != tt.want {
			t.Errorf("%s: error %v of type %s, want %s", tt.q, err, TypeOf(err), tt.want)
		}
	}
	if _, err := e.QueryRange(ctx, `up`, Range{Start: at, End: at.Add(-time.Second), Step: time.Second}); TypeOf(err) != ErrBadData {
		t.Errorf("end before start: %v", err)
	}
}

func TestMaxSamples(t *testing.T) {
	e := newEngine(t, load, 10)
	_, err := e.QueryRange(t.Context(), `vllm:num_requests_running`, Range{Start: time.Unix(0, 0), End: time.Unix(600, 0), Step: 15 * time.Second})
	var qe *Error
	if !errors.As(err, &qe) || qe.Type != ErrExec {
		t.Fatalf("over max samples: %v", err)
	}
}

func TestSeriesAndLabels(t *testing.T) {
	e := newEngine(t, load, 1e6)
	ctx := t.Context()
	start, end := time.Unix(0, 0), time.Unix(600, 0)
	series, err := e.Series(ctx, []string{`vllm:num_requests_running`, `{pod="a"}`}, start, end)
	if err != nil || len(series) != 3 {
		t.Errorf("series: %v %v", series, err)
	}
	names, err := e.LabelNames(ctx, nil, start, end)
	if err != nil || len(names) != 3 || names[0] != model.MetricNameLabel {
		t.Errorf("label names: %v %v", names, err)
	}
	vals, err := e.LabelValues(ctx, "pod", []string{`vllm:generation_tokens_total`}, start, end)
	if err != nil || len(vals) != 1 || vals[0] != "a" {
		t.Errorf("label values: %v %v", vals, err)
	}
	if _, err := e.Series(ctx, []string{`{`}, start, end); TypeOf(err) != ErrBadData {
		t.Errorf("bad matcher: %v", err)
	}
}

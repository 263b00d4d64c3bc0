package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// TestEncodeMatchesStandardLibrary: the jsoniter path writes the very bytes
// encoding/json writes for query results, hostile label values and special
// floats included; only magnitudes below 1e-6 or from 1e21 differ, written
// in exponent form as Prometheus writes them.
func TestEncodeMatchesStandardLibrary(t *testing.T) {
	hostile := model.Metric{"__name__": "up", "job": `a"b\c`, "html": "<script>&amp;</script>", "nl": "x\ny\t\u2028\u2029", "utf8": "ünï", "bad": "\xff\xfe", "empty": "", "utf-8 <name>\"": "v"}
	cases := map[string]response{
		"vector": {Status: "success", Data: queryData{ResultType: model.ValVector, Result: model.Vector{
			{Metric: hostile, Value: 1.5, Timestamp: 1700000000123},
			{Metric: model.Metric{}, Value: model.SampleValue(math.NaN()), Timestamp: 1700000000000},
			{Metric: model.Metric{"a": "1"}, Value: model.SampleValue(math.Inf(1)), Timestamp: 5},
			{Metric: model.Metric{"a": "2"}, Value: model.SampleValue(math.Inf(-1)), Timestamp: -1500},
			{Metric: model.Metric{"a": "3"}, Value: 123456789.125, Timestamp: 1700000000010},
			{Metric: model.Metric{"a": "4"}, Value: -0.25, Timestamp: 1700000000100},
			{Metric: nil, Value: 0, Timestamp: 0},
		}}, Warnings: []string{"w <1>"}, Infos: []string{"i1", "i2"}},
		"empty vector": {Status: "success", Data: queryData{ResultType: model.ValVector, Result: model.Vector{}}},
		"matrix": {Status: "success", Data: queryData{ResultType: model.ValMatrix, Result: model.Matrix{
			{Metric: hostile, Values: []model.SamplePair{{Timestamp: 1000, Value: 1}, {Timestamp: 16000, Value: 0.1}, {Timestamp: 31001, Value: 3e20}}},
			{Metric: model.Metric{"b": "x"}, Values: []model.SamplePair{}},
		}}},
		"empty matrix": {Status: "success", Data: queryData{ResultType: model.ValMatrix, Result: model.Matrix{}}},
		"nil vector":   {Status: "success", Data: queryData{ResultType: model.ValVector, Result: model.Vector(nil)}},
		"histogram": {Status: "success", Data: queryData{ResultType: model.ValVector, Result: model.Vector{
			{Metric: model.Metric{"a": "1"}, Histogram: &model.SampleHistogram{Count: 3, Sum: 1.5}, Timestamp: 1000},
		}}},
		"scalar": {Status: "success", Data: queryData{ResultType: model.ValScalar, Result: &model.Scalar{Value: 2, Timestamp: 1000}}},
		"error":  {Status: "error", ErrorType: "bad_data", Error: "parse error: <bad>"},
		"labels": {Status: "success", Data: []string{"a", "b"}},
	}
	for name, resp := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encode(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("encode:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestEncodeExponentFloats: tiny and huge values as Prometheus's API writes
// them (jsonutil.MarshalFloat), and they parse back to the same float.
func TestEncodeExponentFloats(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{1e-7, `"1e-07"`}, {-2.5e-9, `"-2.5e-09"`}, {1e21, `"1e+21"`}, {1e-6, `"0.000001"`}, {0, `"0"`}} {
		got, err := encode(response{Status: "success", Data: queryData{ResultType: model.ValVector, Result: model.Vector{{Metric: model.Metric{}, Value: model.SampleValue(c.v), Timestamp: 1000}}}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), `"value":[1,`+c.want+`]`) {
			t.Errorf("%g: %s, want value %s", c.v, got, c.want)
		}
		var back struct {
			Data struct {
				Result []model.Sample `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(got, &back); err != nil || float64(back.Data.Result[0].Value) != c.v {
			t.Errorf("%g does not parse back: %v %v", c.v, back, err)
		}
	}
}

// benchMatrix is a dashboard-sized range result: 200 series of 8 labels,
// 241 points each (an hour at a 15 s step).
func benchMatrix() response {
	m := make(model.Matrix, 200)
	for i := range m {
		vals := make([]model.SamplePair, 241)
		for j := range vals {
			vals[j] = model.SamplePair{Timestamp: model.Time(1700000000000 + int64(j)*15000), Value: model.SampleValue(float64(i*j) * 0.37)}
		}
		m[i] = &model.SampleStream{Metric: model.Metric{"__name__": "servescope:kv_cache_usage_ratio:avg", "cluster": "eu-1", "namespace": "team-a",
			"pod": model.LabelValue(fmt.Sprintf("chat-llama-8b-%d", i)), "container": "vllm", "model": "llama-8b", "engine": "vllm", "job": "sim"}, Values: vals}
	}
	return response{Status: "success", Data: queryData{ResultType: model.ValMatrix, Result: m}}
}

// BenchmarkEncodeMatrix compares the jsoniter path with encoding/json on a
// dashboard-sized range result (BENCHMARKS.md, issue 20).
func BenchmarkEncodeMatrix(b *testing.B) {
	resp := benchMatrix()
	for _, c := range []struct {
		name string
		f    func(response) ([]byte, error)
	}{{"jsoniter", encode}, {"encoding_json", func(r response) ([]byte, error) { return json.Marshal(r) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := c.f(resp)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}

package schema

import (
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// TestNativeForm checks the native reading of classic histogram series,
// built on the syntax tree: the selector renamed to the family, the part
// a _sum or _count series held taken with histogram_sum or
// histogram_count around the function reading the range, every other
// selector left alone.
func TestNativeForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`rate(vllm:time_to_first_token_seconds_bucket{server=""}[5m])`, `rate(vllm:time_to_first_token_seconds{server=""}[5m])`},
		{`rate(tgi_request_input_length_sum[5m])`, `histogram_sum(rate(tgi_request_input_length[5m]))`},
		{`rate(sglang:kv_transfer_latency_ms_sum[5m]) / 1000`, `histogram_sum(rate(sglang:kv_transfer_latency_ms[5m])) / 1000`},
		{`rate(x_count[1m])`, `histogram_count(rate(x[1m]))`},
		{`x_sum / x_count`, `histogram_sum(x) / histogram_count(x)`},
		{`{__name__="x_bucket",le="1"}`, `{__name__="x",le="1"}`},
		{`sum by (pod) (rate(x_bucket[5m])) unless on (pod) y_total`, `sum by (pod) (rate(x[5m])) unless on (pod) y_total`},
		{`max_over_time(x_count[5m:1m])`, `histogram_count(max_over_time(x[5m:1m]))`},
		{`rate(vllm:generation_tokens_total[5m])`, `rate(vllm:generation_tokens_total[5m])`},
	} {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := nativeForm(e).String(); got != tc.want {
			t.Errorf("nativeForm(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for q, want := range map[string]bool{`rate(x_bucket[5m])`: true, `x_sum`: true, `rate(x_total[5m])`: false, `_sum`: false} {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := readsClassicHistogram(e); got != want {
			t.Errorf("readsClassicHistogram(%s) = %v, want %v", q, got, want)
		}
	}
}

// TestReadsBothForms: the names the catalog reads, which the scrape keep
// step stores, hold each histogram in both forms.
func TestReadsBothForms(t *testing.T) {
	t.Parallel()
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds",
		"vllm:iteration_tokens_total_sum", "vllm:iteration_tokens_total_count", "vllm:iteration_tokens_total",
		"kueue_admission_wait_time_seconds_bucket", "kueue_admission_wait_time_seconds",
	} {
		if !matchesAny(cat.Reads(), []string{name}) {
			t.Errorf("Reads does not select %s", name)
		}
	}
}

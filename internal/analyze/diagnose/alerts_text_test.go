package diagnose

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// TestAlertText checks the placeholder substitution of the alert texts:
// signals become recorded series, thresholds numbers, and a misspelt
// placeholder or a join off the GPU key is an error.
func TestAlertText(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	th := DefaultThresholds()
	th.KVHigh = 0.5
	vars, err := alertVars(cat, th)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text, want, err string
	}{
		{text: `kv_cache_usage_ratio > kv_high`, want: `servescope:kv_cache_usage_ratio:avg > 0.5`},
		{text: `gpu_pod{pod!=""} unless ttft_p95_baseline`, want: `servescope:gpu_pod:info{pod!=""} unless servescope:ttft_seconds:p95 offset 1d`},
		{text: `max by (pod) (rate(up[5m])) > kv_high`, want: `max by (pod) (rate(up[5m])) > 0.5`},
		{text: `kv_cache_usage_ratio > kv_hihg`, err: `"kv_hihg" is neither a placeholder`},
		{text: `kv_high{pod="x"} > 1`, err: "number placeholder"},
		{text: `gpu_busy_ratio and on (uuid) gpu_pod`, err: "want the GPU key"},
	}
	p := parser.NewParser(parser.Options{})
	for _, tc := range tests {
		e, err := p.ParseExpr(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		e, err = substitute(e, vars)
		if err == nil {
			err = checkJoins(e)
		}
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.text, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.text, err)
		case e.String() != tc.want:
			t.Errorf("%s = %s, want %s", tc.text, e, tc.want)
		}
	}
}

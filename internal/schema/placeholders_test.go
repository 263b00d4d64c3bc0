package schema

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestPlaceholders: the one substitution of the alerts' and the
// objectives' texts, each of its rules.
func TestPlaceholders(t *testing.T) {
	hist := &parser.VectorSelector{Name: "h_bucket", LabelMatchers: []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "h_bucket"), labels.MustNewMatcher(labels.MatchEqual, "le", "0.5")}}
	p := Placeholders{Text: "test text", Raw: map[string]bool{"up": true}, Vars: map[string]parser.Expr{
		"busy":      &parser.VectorSelector{Name: "servescope:gpu_busy_ratio:avg"},
		"baseline":  &parser.VectorSelector{Name: "servescope:ttft_seconds:p95", OriginalOffset: 24 * time.Hour},
		"good":      hist,
		"threshold": &parser.NumberLiteral{Val: 0.25},
	}}
	tests := []struct {
		text, want, err string
		by              []string
		rng             time.Duration
	}{
		{text: `busy{pod!=""} < threshold`, want: `servescope:gpu_busy_ratio:avg{pod!=""} < 0.25`},
		{text: `busy - baseline`, want: `servescope:gpu_busy_ratio:avg - servescope:ttft_seconds:p95 offset 1d`},
		{text: `baseline offset 1h`, want: `servescope:ttft_seconds:p95 offset 1h`},
		{text: `sum(rate(good[1m])) and up == 0`, by: []string{"pod"}, rng: 5 * time.Minute, want: `sum by (pod) (rate(h_bucket{le="0.5"}[5m])) and up == 0`},
		{text: `-threshold + scalar(threshold) * 2`, want: `-0.25 + 0.25 * 2`},
		{text: `quantile(scalar(threshold), busy)`, want: `quantile(0.25, servescope:gpu_busy_ratio:avg)`},
		{text: `busy > treshold`, err: `test text: "treshold" is neither a placeholder`},
		{text: `threshold{pod="x"} > 1`, err: "number placeholder"},
		{text: `rate(threshold[5m])`, err: "a range of a number placeholder"},
	}
	for _, tc := range tests {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		q := p
		q.By, q.Range = tc.by, tc.rng
		got, err := q.Substitute(e)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.text, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.text, err)
		case got.String() != tc.want:
			t.Errorf("%s:\n got %s\nwant %s", tc.text, got, tc.want)
		}
	}
	// The placeholder's own selector is not changed by a substitution.
	if len(hist.LabelMatchers) != 2 {
		t.Errorf("the placeholder's matchers changed: %v", hist.LabelMatchers)
	}
}

package diagnose_test

import (
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// TestThresholdsValidate refuses out-of-range and contradictory thresholds,
// naming the key and the reason.
func TestThresholdsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*diagnose.Thresholds)
		scrape time.Duration
		want   string // substring of the error; "" for none
	}{
		{name: "defaults", change: func(*diagnose.Thresholds) {}, scrape: 15 * time.Second},
		{name: "ratio above one", change: func(th *diagnose.Thresholds) { th.IdleBusy = 1.5 }, want: "idle_busy: 1.5 is outside (0, 1]"},
		{name: "negative ratio", change: func(th *diagnose.Thresholds) { th.SpecAcceptance = -0.1 }, want: "spec_acceptance: -0.1 is outside"},
		{name: "warning above critical", change: func(th *diagnose.Thresholds) { th.KVHigh = 0.95 }, want: "kv_high: warning level 0.95 is not below the critical kv_saturated 0.9"},
		{name: "for shorter than scrape", change: func(th *diagnose.Thresholds) { th.KVSaturatedFor = 10 * time.Second }, scrape: 15 * time.Second,
			want: "kv_saturated_for: 10s is shorter than the scrape interval 15s"},
		{name: "zero for", change: func(th *diagnose.Thresholds) { th.XIDFor = 0 }, want: "xid_for: 0s must be positive"},
		{name: "ttft factor", change: func(th *diagnose.Thresholds) { th.TTFTFactor = 1 }, want: "ttft_factor: 1 must be above 1"},
		{name: "bands crossed", change: func(th *diagnose.Thresholds) { th.LowBusy, th.HighBusy = 0.9, 0.8 }, want: "low_busy: 0.9 is above high_busy 0.8"},
		{name: "sustain below step", change: func(th *diagnose.Thresholds) { th.Sustain = time.Second }, want: "sustain: 1s is shorter than step 15s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th := diagnose.DefaultThresholds()
			tc.change(&th)
			err := th.Validate(tc.scrape)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDecodeThresholds reads YAML over the defaults and refuses unknown
// keys and contradictions.
func TestDecodeThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		check      func(diagnose.Thresholds) bool
		want       string
	}{
		{name: "empty keeps defaults", yaml: "", check: func(th diagnose.Thresholds) bool { return th == diagnose.DefaultThresholds() }},
		{name: "override", yaml: "kv_high: 0.8\nqueued_for: 10m\n", check: func(th diagnose.Thresholds) bool {
			return th.KVHigh == 0.8 && th.QueuedFor == 10*time.Minute && th.KVSaturated == 0.9
		}},
		{name: "unknown key", yaml: "kv_hgih: 0.8\n", want: "field kv_hgih not found"},
		{name: "contradiction", yaml: "kv_high: 0.95\n", want: "kv_high: warning level 0.95"},
		{name: "for below scrape", yaml: "xid_for: 5s\n", want: "xid_for: 5s is shorter than the scrape interval 15s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th, err := diagnose.DecodeThresholds([]byte(tc.yaml), 15*time.Second)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || !tc.check(th) {
				t.Fatalf("got %+v, %v", th, err)
			}
		})
	}
}

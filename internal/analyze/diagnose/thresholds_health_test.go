package diagnose_test

import (
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// TestHealthThresholdKeys: the unusable-GPU keys sit inline among the
// diagnosis thresholds, decoded and validated with them.
func TestHealthThresholdKeys(t *testing.T) {
	t.Parallel()
	th, err := diagnose.DecodeThresholds([]byte("unusable_lookback: 30m\nunusable_xid_repeat: 3\nunusable_xid_persist: 10m\n"), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if th.Health.Lookback != 30*time.Minute || th.Health.XIDRepeat != 3 || th.Health.XIDPersist != 10*time.Minute {
		t.Errorf("decoded %+v", th.Health)
	}
	if d := diagnose.DefaultThresholds().Health; d.Lookback != 15*time.Minute || d.XIDRepeat != 2 || d.XIDPersist != 5*time.Minute {
		t.Errorf("defaults %+v", d)
	}
	for _, bad := range []struct{ yaml, key string }{
		{"unusable_xid_repeat: 1\n", "unusable_xid_repeat"},
		{"unusable_xid_persist: 1h\n", "unusable_xid_persist"},
		{"unusable_lookback: 0s\n", "unusable_lookback"},
	} {
		if _, err := diagnose.DecodeThresholds([]byte(bad.yaml), 15*time.Second); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: %v, want an error naming %s", bad.yaml, err, bad.key)
		}
	}
}

package diagnose_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestAlertRules renders the alerting rules, compares them with the golden
// file and checks them with promtool (Debian's /usr/bin/promtool).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := diagnose.AlertRulesFile(cat, diagnose.DefaultThresholds(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("testdata", "alerts.golden.yml"), b)
	groups, err := diagnose.AlertRules(cat, diagnose.DefaultThresholds(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"KVCacheHigh", "KVCacheSaturated", "RequestsQueued", "TTFTp95Regression", "GPUIdle", "GPUXIDError", "ExporterDown"}
	if got := groups.Groups[0].Rules; len(got) != len(want) {
		t.Fatalf("%d rules, want %d", len(got), len(want))
	}
	for i, r := range groups.Groups[0].Rules {
		if r.Alert != want[i] || r.For <= 0 || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
			t.Errorf("rule %d = %+v, want alert %s with for, severity and summary", i, r, want[i])
		}
	}
	// The embedded rule manager's targets are all servescope's; a shared
	// Prometheus gets ExporterDown on servescope's own jobs only.
	if got := groups.Groups[0].Rules[6].Expr; got != "up == 0" {
		t.Errorf("embedded ExporterDown %q, want up == 0", got)
	}
	ext, err := diagnose.ExternalAlertRules(cat, diagnose.DefaultThresholds(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ext.Groups[0].Rules[6].Expr, `up{job=~"servescope-engines|dcgm-exporter|kueue|kube-state-metrics|llm-d-epp|dynamo-frontend"} == 0`; got != want {
		t.Errorf("external ExporterDown %q, want %q", got, want)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): skipping promtool check rules")
	}
	f := filepath.Join(t.TempDir(), "alerts.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("promtool: %s", out)
}

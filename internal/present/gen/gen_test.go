package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/counts"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// testAlerts stands in for the diagnosis alerts: it proves the hook, without
// tying these goldens to another package's thresholds.
func testAlerts() []rulefmt.RuleGroup {
	return []rulefmt.RuleGroup{{
		Name: "test-alerts", Interval: model.Duration(30 * time.Second),
		Rules: []rulefmt.Rule{{
			Alert: "TestGPUIdle", Expr: `servescope:gpu_busy_ratio:avg < 0.05`, For: model.Duration(15 * time.Minute),
			Labels: map[string]string{"severity": "warning"}, Annotations: map[string]string{"summary": "GPU {{ $labels.uuid }} idle"},
		}},
	}}
}

func testInput(t *testing.T, raw bool) Input {
	t.Helper()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile("testdata/teams.yml")
	if err != nil {
		t.Fatal(err)
	}
	teams, err := ParseTeams("testdata/teams.yml", content)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Catalog: cat, Alerts: testAlerts(), Teams: teams, Options: Options{RawQueries: raw}}
}

func generateT(t *testing.T, raw bool) Files {
	t.Helper()
	files, err := Generate(testInput(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGolden compares every generated file with testdata/golden, both ways:
// no file missing, none extra.
func TestGolden(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	golden.CompareDir(t, filepath.Join("testdata", "golden"), files)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, raw := range []bool{false, true} {
		a, b := generateT(t, raw), generateT(t, raw)
		if !slices.Equal(a.Paths(), b.Paths()) {
			t.Fatalf("paths differ between runs")
		}
		for _, p := range a.Paths() {
			if !bytes.Equal(a[p], b[p]) {
				t.Errorf("raw=%v: %s differs between runs", raw, p)
			}
		}
	}
}

func TestWithoutTeamsOrAlerts(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(Input{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files.Paths() {
		if strings.HasPrefix(p, "kueue/teams/") || p == "kueue/resourceflavors.yaml" {
			t.Errorf("%s generated without a teams file", p)
		}
	}
	if bytes.Contains(files[RulesFile], []byte("alert:")) {
		t.Error("alerting rules generated without alerts")
	}
	if _, err := Generate(Input{}); err == nil {
		t.Error("Generate without a catalog succeeded")
	}
	if _, err := Generate(Input{Catalog: cat, Options: Options{TeamLabel: "not a label"}}); err == nil {
		t.Error("Generate with an invalid team label succeeded")
	}
}

func TestDuplicateAlertGroupRefused(t *testing.T) {
	t.Parallel()
	in := testInput(t, false)
	in.Alerts = append(in.Alerts, rulefmt.RuleGroup{Name: schema.GroupSignals})
	if _, err := Generate(in); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("got %v, want a duplicate group error", err)
	}
}

// TestProgress: Generate reports each step as it finishes, up to all of
// them, and a failing step reports no more.
func TestProgress(t *testing.T) {
	t.Parallel()
	in := testInput(t, false)
	var rec counts.Recorder
	in.Progress = rec.Record
	if _, err := Generate(in); err != nil {
		t.Fatal(err)
	}
	total := rec.CheckComplete(t, 2)
	// Duplicate alert groups fail the rules step (the second): only the
	// dashboards are reported done.
	rec.Reset()
	in.Alerts = append(testAlerts(), testAlerts()...)
	if _, err := Generate(in); err == nil {
		t.Fatal("duplicate alert groups accepted")
	}
	if calls := rec.Calls(); len(calls) != 1 || calls[0] != [2]int{1, total} {
		t.Errorf("after a failing step: calls %v, want [[1 %d]]", calls, total)
	}
}

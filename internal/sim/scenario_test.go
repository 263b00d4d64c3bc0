package sim

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// scenarioNames are the scenarios the issue asks for, shipped in examples/scenarios.
var scenarioNames = []string{"healthy", "idle", "cpu-bound", "memory-bound", "kv-saturation", "backlog", "gateway-backlog",
	"ttft-regression", "poor-spec-decode", "noisy-tenant", "exporter-down", "mixed",
	// The diagnosis's cases: an engine without KV series, memory-bound at
	// mid KV usage, a busy fleet that serves its demand.
	"llamacpp-no-kv", "memory-bound-kv", "busy-healthy",
	// Broken GPUs (issue 22).
	"gpu-failure",
	// Kueue's admission story: queue states (Truth.Queues).
	"stranded-quota", "quota-starved",
	// Disaggregation (prefill/decode roles, KV transfer) and sleep mode.
	"pd-imbalance", "kv-transfer-slow", "engine-asleep"}

const scenarioDir = "../../examples/scenarios"

func loadExample(t testing.TB, name string) *Scenario {
	t.Helper()
	sc, err := OpenScenario("", name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return sc
}

func TestExampleScenariosLoad(t *testing.T) {
	t.Parallel()
	for _, name := range scenarioNames {
		sc := loadExample(t, name)
		if sc.Name != name {
			t.Errorf("%s: name %q, want the file's name", name, sc.Name)
		}
		for _, gpus := range []int{8, 64, 1000} {
			if _, err := NewCluster(Options{Scenario: sc, GPUs: gpus, Seed: 1}); err != nil {
				t.Errorf("%s at %d GPUs: %v", name, gpus, err)
			}
		}
	}
}

// TestShipped checks that the scenarios built into the binary are the files
// of examples/scenarios, that a name is looked up there unless a directory
// overrides it, and that an unknown name lists the names there are.
func TestShipped(t *testing.T) {
	t.Parallel()
	want := slices.Clone(scenarioNames)
	slices.Sort(want)
	if got := Shipped(); !slices.Equal(got, want) {
		t.Errorf("Shipped() = %v, want %v", got, want)
	}
	for _, name := range scenarioNames {
		embedded, err := OpenScenario("", name)
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := OpenScenario(scenarioDir, name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(embedded, onDisk) {
			t.Errorf("%s: the embedded scenario differs from %s", name, scenarioDir)
		}
	}
	byPath, err := OpenScenario("", filepath.Join(scenarioDir, "idle.yml"))
	if err != nil || byPath.Name != "idle" {
		t.Errorf("by path: %v, %v", byPath, err)
	}
	for _, tc := range []struct{ dir, name, want string }{
		{"", "nope", "the shipped ones are backlog, busy-healthy, cpu-bound, engine-asleep, exporter-down, gateway-backlog, gpu-failure, healthy, idle,"},
		{"", "prices", "unknown scenario \"prices\""},
		{filepath.Join("testdata", "bad"), "nope", "has bad-duration.bad, event-field-of-relabel.bad,"},
		{t.TempDir(), "healthy", "no scenario files in"},
	} {
		_, err := OpenScenario(tc.dir, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenScenario(%q, %q) = %v, want an error containing %q", tc.dir, tc.name, err, tc.want)
		}
	}
}

func TestBadScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		line int
		want string
	}{
		{"unknown-key.bad.yml", 6, "field colour not found"},
		{"negative-rate.bad.yml", 16, "rate must not be negative"},
		{"quota-too-small.bad.yml", 9, "cannot hold its deployments"},
		{"unknown-model.bad.yml", 9, `unknown model "GPT-5"`},
		{"model-does-not-fit.bad.yml", 9, "does not fit"},
		{"bad-duration.bad.yml", 5, `duration "soon"`},
		{"job-too-big.bad.yml", 7, "can hold at most"},
		{"relabel-unknown-team.bad.yml", 17, `unknown team "research"`},
		{"relabel-node.bad.yml", 15, "nodes applies to node events"},
		{"relabel-no-selector.bad.yml", 7, "relabel needs deployment or job"},
		{"relabel-label.bad.yml", 9, `label "app" is not supported`},
		{"event-field-of-relabel.bad.yml", 8, "deployment applies to relabel events, not xid"},
		{"events-out-of-order.bad.yml", 6, "events must be in time order"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			_, err := LoadScenario(path)
			var se *ScenarioError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *ScenarioError", err)
			}
			if se.File != path || se.Line != tt.line || !strings.Contains(se.Reason, tt.want) {
				t.Errorf("got %q (line %d), want %s:%d: …%s…", err, se.Line, path, tt.line, tt.want)
			}
		})
	}
}

func TestGPUsBeyondLimit(t *testing.T) {
	t.Parallel()
	_, err := NewCluster(Options{Scenario: loadExample(t, "healthy"), GPUs: MaxGPUs + 1})
	if err == nil || !strings.Contains(err.Error(), "100000") {
		t.Fatalf("err = %v, want the limit named", err)
	}
}

func FuzzParseScenario(f *testing.F) {
	for _, name := range scenarioNames {
		b, err := os.ReadFile(filepath.Join(scenarioDir, name+".yml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bad, _ := filepath.Glob("testdata/bad/*.yml")
	for _, p := range bad {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario("fuzz.yml", data)
		if err != nil {
			var se *ScenarioError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *ScenarioError", err)
			}
			return
		}
		// A scenario that loads must build at a small size.
		if sc.GPUs > 512 {
			return
		}
		if _, err := NewCluster(Options{Scenario: sc, Seed: 1}); err != nil {
			t.Fatalf("valid scenario does not build: %v", err)
		}
	})
}

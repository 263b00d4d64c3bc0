package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	promconfig "github.com/prometheus/prometheus/config"

	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestBadConfigs loads each testdata/*.bad.yml and compares the error with
// testdata/bad.golden, one "file: error" block per config.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	var got strings.Builder
	for _, f := range files {
		_, err := LoadFile(f, nil)
		if err == nil {
			t.Errorf("%s: loaded without error", f)
			continue
		}
		if !strings.HasPrefix(err.Error(), f+":") {
			t.Errorf("%s: error %q does not name the file", f, err)
		}
		got.WriteString(err.Error() + "\n")
		// A person reads these: no Go type names.
		for _, goName := range []string{"not found in type", "config.", "struct {"} {
			if strings.Contains(err.Error(), goName) {
				t.Errorf("%s: error %q shows Go's view (%q)", f, err, goName)
			}
		}
	}
	golden.Compare(t, "testdata/bad.golden", []byte(got.String()))
}

func TestLineNumbers(t *testing.T) {
	tests := []struct {
		file string
		line int
	}{
		{"testdata/unknown_field.bad.yml", 7},
		{"testdata/timeout.bad.yml", 7},
		{"testdata/duplicate_job.bad.yml", 5},
		{"testdata/servescope_unknown.bad.yml", 4},
		{"testdata/bad_yaml.bad.yml", 3}, // where the YAML parser notices
		{"testdata/bad_limit.bad.yml", 3},
		{"testdata/bad_relabel.bad.yml", 7},
		{"testdata/servescope_typo.bad.yml", 4},
		{"testdata/global_typo.bad.yml", 3},
		{"testdata/bad_cluster_label.bad.yml", 5},
		{"testdata/monitor_labels.bad.yml", 7},
		{"testdata/bad_carbon_intensity.bad.yml", 5},
		{"testdata/reference_prices.bad.yml", 6},
		{"testdata/reference_prices_twice.bad.yml", 9},
		{"testdata/keep_metrics.bad.yml", 6},
	}
	for _, tt := range tests {
		_, err := LoadFile(tt.file, nil)
		want := fmt.Sprintf("%s:%d:", tt.file, tt.line)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want prefix %q", tt.file, err, want)
		}
	}
}

func TestGoodConfig(t *testing.T) {
	cfg, err := LoadFile("testdata/good.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	scs, err := cfg.Prometheus.GetScrapeConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 3 {
		t.Fatalf("%d scrape configs, want 3", len(scs))
	}
	vllm := scs[0]
	if vllm.SampleLimit != 20000 || vllm.LabelLimit != 64 || vllm.LabelValueLengthLimit != 1024 || vllm.BodySizeLimit != 50<<20 {
		t.Errorf("limits not read: %+v", vllm)
	}
	if vllm.ScrapeFallbackProtocol != promconfig.PrometheusText0_0_4 {
		t.Errorf("fallback protocol %q, want the text format by default", vllm.ScrapeFallbackProtocol)
	}
	if !scs[1].HonorLabels || scs[0].HonorLabels {
		t.Error("honor_labels not read")
	}
	if len(scs[1].ServiceDiscoveryConfigs) != 1 || len(scs[2].ServiceDiscoveryConfigs) != 1 {
		t.Error("file and kubernetes discovery not read")
	}
	// Relative file_sd paths resolve against the config's directory.
	if got := scs[1].ServiceDiscoveryConfigs[0]; !strings.Contains(strings.Join(fileSDFiles(got), ","), filepath.Join("testdata", "targets")) {
		t.Errorf("file_sd paths not resolved against testdata: %v", fileSDFiles(got))
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		cfg, err := Parse("fuzz.yml", content, nil)
		if err == nil && cfg.Prometheus == nil {
			t.Fatal("no error and no config")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yml") {
			t.Fatalf("error %q does not name the file", err)
		}
	})
}

func TestExtension(t *testing.T) {
	cfg, err := LoadFile("testdata/extension.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	ext := cfg.Servescope
	if ext.TeamLabel != "owner" || ext.ClusterLabel != "k8s_cluster" || ext.QueueTeams["cq-search"] != "search" || ext.PriceBook != filepath.Join("testdata", "prices.yml") ||
		len(ext.MonitorLabels) != 1 || ext.MonitorLabels["release"] != "prometheus" || ext.CarbonIntensity != 380.5 || !ext.LentQuotaIsIdle ||
		len(ext.ReferencePrices) != 1 || ext.ReferencePrices[0] != (ReferencePrice{Model: "llama", Input: "0.20", Output: "0.6"}) ||
		len(ext.KeepMetrics) != 2 || ext.KeepMetrics[0] != "node_.*" || !ext.KeepAllMetrics || ext.TenantTeams["tenant-a"] != "search" {
		t.Errorf("servescope section: %+v", ext)
	}
	if len(cfg.Prometheus.ScrapeConfigs) != 1 {
		t.Errorf("the Prometheus part lost its scrape config")
	}
	var th struct {
		KVHigh   float64 `yaml:"kv_high"`
		IdleBusy float64 `yaml:"idle_busy"`
	}
	err = cfg.DecodeSection("diagnosis", &ext.Diagnosis, &th)
	want := "testdata/extension.yml:10: diagnosis: unknown key idle_busyy in the diagnosis section; did you mean idle_busy?"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unknown threshold: %v, want %s", err, want)
	}
	if th.KVHigh != 0.8 {
		t.Errorf("kv_high %v", th.KVHigh)
	}
}

// TestLocateIn places threshold validation errors at the key they name.
func TestLocateIn(t *testing.T) {
	cfg, err := Parse("t.yml", []byte("global:\n  scrape_interval: 15s\nservescope:\n  diagnosis:\n    kv_high: 0.9\n    kv_saturated: 2\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	node := &cfg.Servescope.Diagnosis
	one := cfg.LocateIn(node, errors.New("diagnosis threshold kv_saturated: 2 is not a ratio in [0, 1]"))
	if got, want := one.Error(), "t.yml:6: diagnosis threshold kv_saturated: 2 is not a ratio in [0, 1]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	two := cfg.LocateIn(node, errors.Join(errors.New("diagnosis threshold kv_high: above kv_saturated"), errors.New("something else")))
	if got, want := two.Error(), "t.yml:5: diagnosis threshold kv_high: above kv_saturated\nt.yml:5: something else"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"team_label", "cluster_label", "price_book", "queue_teams", "diagnosis"}
	for in, want := range map[string]string{"team_lable": "team_label", "pricebook": "price_book", "queue_team": "queue_teams", "colour": "", "diagnosys": "diagnosis"} {
		if got := closest(in, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNHCBDefault checks where classic histograms are converted to native
// histograms with custom buckets: by default in every job, the global
// section and scrape_config_files; not with keep_classic_histograms; and
// an explicit convert_classic_histograms_to_nhcb (global or per job) wins
// over either.
func TestNHCBDefault(t *testing.T) {
	t.Parallel()
	jobs := `scrape_configs:
  - job_name: plain
    static_configs: [{targets: ['a:1']}]
  - job_name: on
    convert_classic_histograms_to_nhcb: true
    static_configs: [{targets: ['b:1']}]
  - job_name: off
    convert_classic_histograms_to_nhcb: false
    static_configs: [{targets: ['c:1']}]
`
	tests := []struct {
		name, head   string
		want         map[string]bool
		global, file bool
	}{
		{"default", "", map[string]bool{"plain": true, "on": true, "off": false}, true, true},
		{"keep classic", "servescope:\n  keep_classic_histograms: true\n", map[string]bool{"plain": false, "on": true, "off": false}, false, false},
		{"global off", "global:\n  convert_classic_histograms_to_nhcb: false\n", map[string]bool{"plain": false, "on": true, "off": false}, false, false},
		{"global on, keep classic", "global:\n  convert_classic_histograms_to_nhcb: true\nservescope:\n  keep_classic_histograms: true\n", map[string]bool{"plain": true, "on": true, "off": false}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			more := filepath.Join(dir, "more.yml")
			if err := os.WriteFile(more, []byte("scrape_configs:\n  - job_name: from-file\n    static_configs: [{targets: ['d:1']}]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "servescope.yml")
			body := tc.head + "scrape_config_files: ['" + more + "']\n" + jobs
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadFile(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Prometheus.GlobalConfig.ConvertClassicHistogramsToNHCB; got != tc.global {
				t.Errorf("global: convert %v, want %v", got, tc.global)
			}
			scs, err := cfg.Prometheus.GetScrapeConfigs()
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, sc := range scs {
				want, ok := tc.want[sc.JobName]
				if sc.JobName == "from-file" {
					want, ok = tc.file, true
				}
				if !ok {
					t.Fatalf("unexpected job %s", sc.JobName)
				}
				seen++
				if got := sc.ConvertClassicHistogramsToNHCBEnabled(); got != want {
					t.Errorf("job %s: convert %v, want %v", sc.JobName, got, want)
				}
			}
			if seen != 4 {
				t.Errorf("%d jobs, want 4", seen)
			}
		})
	}
}

// TestKeepClassicHistogramsType locates a wrongly typed switch at its line.
func TestKeepClassicHistogramsType(t *testing.T) {
	t.Parallel()
	_, err := Parse("t.yml", []byte("global:\n  scrape_interval: 15s\nservescope:\n  keep_classic_histograms: sometimes\n"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "t.yml:4:") || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("err = %v, want one at t.yml:4 naming the value", err)
	}
}

// TestNHCBRemoteWrite: with conversion on by default, a remote_write that
// says nothing about histograms sends them classic; one that asks for
// native histograms, or sets the conversion itself, is left alone; with
// keep_classic_histograms nothing is converted.
func TestNHCBRemoteWrite(t *testing.T) {
	t.Parallel()
	writes := `remote_write:
  - url: http://a/api/v1/write
  - url: http://b/api/v1/write
    send_native_histograms: true
  - url: http://c/api/v1/write
    convert_nhcb_to_classic: false
`
	for _, tc := range []struct {
		name, head string
		want       []bool
	}{
		{"default", "", []bool{true, false, false}},
		{"keep classic", "servescope:\n  keep_classic_histograms: true\n", []bool{false, false, false}},
	} {
		cfg, err := Parse("rw.yml", []byte(tc.head+writes), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, rw := range cfg.Prometheus.RemoteWriteConfigs {
			if rw.ConvertNHCBToClassic != tc.want[i] {
				t.Errorf("%s: remote_write %s: convert_nhcb_to_classic %v, want %v", tc.name, rw.URL, rw.ConvertNHCBToClassic, tc.want[i])
			}
		}
	}
}

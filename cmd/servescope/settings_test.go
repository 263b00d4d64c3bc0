package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigOnEveryCommand checks that the offline commands read
// servescope.yml's servescope section through --config, that flags
// override it, and that a bad file fails with its line.
func TestConfigOnEveryCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(good, []byte("global: {scrape_interval: 15s}\nservescope:\n  team_label: owner\n  diagnosis:\n    kv_high: 0.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("global: {scrape_interval: 15s}\nservescope:\n  team_lable: owner\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	threshold := filepath.Join(dir, "threshold.yml")
	if err := os.WriteFile(threshold, []byte("global: {scrape_interval: 15s}\nservescope:\n  diagnosis:\n    kv_high: 0.9\n    kv_saturated: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"rules", "--config", good}, want: "label_owner"},
		{args: []string{"rules", "--config", good, "--team-label", "squad"}, want: "label_squad"},
		{args: []string{"alert-rules", "--config", good}, want: "0.7"},
		{args: []string{"explain", "gpu_busy_ratio", "--config", bad}, wantErr: bad + ":3: unknown key team_lable in the servescope section; did you mean team_label?"},
		{args: []string{"generate", "--out", filepath.Join(dir, "gen"), "--config", bad}, wantErr: bad + ":3:"},
		{args: []string{"cost", "--config", filepath.Join(dir, "missing.yml")}, wantErr: "missing.yml"},
		{args: []string{"check", "config", threshold}, wantErr: threshold + ":5: diagnosis threshold kv_saturated"},
		{args: []string{"diagnose", "--config", threshold}, wantErr: threshold + ":5: diagnosis threshold kv_saturated"},
	} {
		t.Run(strings.Join(tc.args[:3], " "), func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(t.Context(), tc.args, env{stdout: &out, stderr: &errs})
			if tc.wantErr != "" {
				if code == 0 || !strings.Contains(errs.String(), tc.wantErr) {
					t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errs.String(), tc.wantErr)
				}
				return
			}
			if code != 0 || !strings.Contains(out.String(), tc.want) {
				t.Errorf("%v: exit %d (%s); output lacks %q", tc.args, code, errs.String(), tc.want)
			}
		})
	}
}

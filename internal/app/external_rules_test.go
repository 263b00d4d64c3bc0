package app

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestExternalModeListsGeneratedRules loads the rules file `generate`
// writes (the catalog's recording rules and the diagnosis alerts) into
// Debian's Prometheus; servescope in external mode lists that
// Prometheus's rule groups (a group of the backend's own included) and
// alerts, not its idle embedded rule manager's. It skips when prometheus is not installed.
func TestExternalModeListsGeneratedRules(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("Debian's prometheus is not installed; make test installs it (apt-get install prometheus)")
	}
	files, err := GenerateFiles(GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rulesYAML, ok := files["prometheus/servescope-rules.yml"]
	if !ok {
		t.Fatalf("generate wrote no prometheus/servescope-rules.yml; it wrote %v", files.Paths())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "servescope-rules.yml"), rulesYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	// A group of the backend's own, which servescope has nowhere else.
	own := "groups:\n- name: backend-only\n  rules:\n  - alert: BackendOnly\n    expr: vector(1)\n"
	if err := os.WriteFile(filepath.Join(dir, "own.yml"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {evaluation_interval: 1s}\nrule_files: [servescope-rules.yml, own.yml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := proc.FreeAddr(t)
	proc.Start(t, dir, "prometheus", bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	prom := "http://" + addr
	proc.WaitReady(t, "prometheus", prom, 60*time.Second)

	ext := start(t, "global: {scrape_interval: 15s}\nscrape_configs: []\n", t.TempDir(), func(o *Options) { o.RemoteURL = prom })
	type ruleGroups struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"rules"`
		} `json:"groups"`
	}
	var theirs, ours ruleGroups
	proc.GetAPI(t, prom+"/api/v1/rules", &theirs)
	proc.GetAPI(t, ext.base+"/api/v1/rules", &ours)
	names := func(g ruleGroups, typ string) []string {
		var out []string
		for _, gr := range g.Groups {
			for _, r := range gr.Rules {
				if r.Type == typ {
					out = append(out, gr.Name+"/"+r.Name)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	alerts, records := names(theirs, "alerting"), names(theirs, "recording")
	if !slices.Contains(alerts, "backend-only/BackendOnly") || len(alerts) < 2 || len(records) == 0 {
		t.Fatalf("Prometheus loaded %d alerting and %d recording rules from the generated file", len(alerts), len(records))
	}
	if got := names(ours, "alerting"); !slices.Equal(got, alerts) {
		t.Errorf("external mode lists alerting rules %v, Prometheus has %v", got, alerts)
	}
	if got := names(ours, "recording"); !slices.Equal(got, records) {
		t.Errorf("external mode lists %d recording rules, Prometheus has %d", len(got), len(records))
	}
	// BackendOnly fires at Prometheus's first evaluation.
	proc.Eventually(t, "BackendOnly listed as firing by external mode", 30*time.Second, func() (bool, string) {
		var a struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		proc.GetAPI(t, ext.base+"/api/v1/alerts", &a)
		for _, al := range a.Alerts {
			if al.Labels["alertname"] == "BackendOnly" && al.State == "firing" {
				return true, ""
			}
		}
		b, _ := json.Marshal(a)
		return false, string(b)
	})
}

package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// runGenerate runs `generate` with args through its kingpin clause.
func runGenerate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	a := kingpin.New("servescope", "")
	var out bytes.Buffer
	cmds := generateCommands(a, env{stdout: &out, stderr: &out})
	if _, err := a.Parse(append([]string{"generate"}, args...)); err != nil {
		t.Fatal(err)
	}
	err := cmds[0].run(t.Context())
	return out.String(), err
}

// readTree returns every file under dir by slash path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path) // path is under dir by construction
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGenerateDeterministic runs `generate` twice with the example teams
// file and the real diagnosis alerts and compares the trees byte for byte.
func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		out, err := runGenerate(t, "--out", dir, "--teams", "../../examples/teams.yml")
		if err != nil {
			t.Fatalf("generate: %v\n%s", err, out)
		}
	}
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) < 20 || len(ta) != len(tb) {
		t.Fatalf("%d and %d files", len(ta), len(tb))
	}
	for p, content := range ta {
		if !bytes.Equal(content, tb[p]) {
			t.Errorf("%s differs between runs", p)
		}
	}
	rules := ta["prometheus/servescope-rules.yml"]
	if !bytes.Contains(rules, []byte("alert:")) || !bytes.Contains(rules, []byte("record:")) {
		t.Error("rules file lacks the diagnosis alerts or the catalog's recording rules")
	}
	if !bytes.Contains(ta["kubernetes/prometheusrule.yaml"], []byte("alert:")) {
		t.Error("PrometheusRule lacks the diagnosis alerts")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed; skipping promtool check rules")
	}
	if out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", filepath.Join(a, "prometheus", "servescope-rules.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// TestGenerateBadTeamsWritesNothing refuses a bad teams file with file,
// line and reason, and leaves the output directory untouched.
func TestGenerateBadTeamsWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	teams := filepath.Join(dir, "teams.yml")
	content := "flavors:\n  - name: h100\nteams:\n  - name: a\n    namespaces: [a]\n    quota: [{flavor: h100, gpus: 1}]\n  - name: a\n    namespaces: [b]\n    quota: [{flavor: l4, gpus: 1}]\n"
	if err := os.WriteFile(teams, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	_, err := runGenerate(t, "--out", out, "--teams", teams)
	if err == nil {
		t.Fatal("bad teams file accepted")
	}
	for _, w := range []string{teams + `:7: duplicate team "a" (first at line 4)`, teams + `:9: team "a": unknown GPU flavor "l4"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory written despite the error (stat: %v)", err)
	}
}

// TestGenerateMonitorLabel: --monitor-label replaces the
// kube-prometheus-stack default on every monitor and the PrometheusRule;
// a bad label writes nothing.
func TestGenerateMonitorLabel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := runGenerate(t, "--out", dir, "--monitor-label", "release=prometheus", "--monitor-label", "team=platform"); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	tree := readTree(t, dir)
	n := 0
	for p, content := range tree {
		if !strings.HasPrefix(p, "kubernetes/monitors/") && p != "kubernetes/prometheusrule.yaml" {
			continue
		}
		n++
		if !bytes.Contains(content, []byte("release: prometheus\n")) || !bytes.Contains(content, []byte("team: platform\n")) || bytes.Contains(content, []byte("kube-prometheus-stack")) {
			t.Errorf("%s does not carry exactly the given labels:\n%s", p, content)
		}
	}
	if n != 9 {
		t.Errorf("%d monitors and rules, want 9", n)
	}
	bad := filepath.Join(t.TempDir(), "out")
	if _, err := runGenerate(t, "--out", bad, "--monitor-label", "release=not valid"); err == nil || !strings.Contains(err.Error(), "monitor labels") {
		t.Errorf("bad label: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("output written despite a bad label (stat: %v)", err)
	}
}

// TestGenerateMonitorLabelsFromConfig: servescope.yml's monitor_labels
// label every monitor; --monitor-label replaces them.
func TestGenerateMonitorLabelsFromConfig(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "servescope.yml")
	if err := os.WriteFile(cfg, []byte("servescope:\n  monitor_labels:\n    release: prom-main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		want, gone string
	}{
		{name: "config", want: "release: prom-main\n", gone: "kube-prometheus-stack"},
		{name: "flag overrides", args: []string{"--monitor-label", "release=from-flag"}, want: "release: from-flag\n", gone: "prom-main"},
	} {
		dir := t.TempDir()
		if out, err := runGenerate(t, append([]string{"--out", dir, "--config", cfg}, tc.args...)...); err != nil {
			t.Fatalf("%s: generate: %v\n%s", tc.name, err, out)
		}
		content := readTree(t, dir)["kubernetes/prometheusrule.yaml"]
		if !bytes.Contains(content, []byte(tc.want)) || bytes.Contains(content, []byte(tc.gone)) {
			t.Errorf("%s: PrometheusRule labels, want %q and no %q:\n%.400s", tc.name, tc.want, tc.gone, content)
		}
	}
}

// TestGenerateProgress: away from a terminal, generate writes quiet
// progress lines to stderr, ending at 100% before the summary on stdout.
func TestGenerateProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := kingpin.New("servescope", "")
	var out, errb bytes.Buffer
	cmds := generateCommands(a, env{stdout: &out, stderr: &errb})
	if _, err := a.Parse([]string{"generate", "--out", dir}); err != nil {
		t.Fatal(err)
	}
	if err := cmds[0].run(t.Context()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "generate "+dir+": 100% (done)" || !strings.HasPrefix(lines[0], "generate "+dir+": ") {
		t.Errorf("stderr %q: want progress lines ending at 100%%", errb.String())
	}
	if strings.Contains(errb.String(), "\r") {
		t.Error("carriage return outside a terminal")
	}
	if !strings.HasPrefix(out.String(), "wrote ") {
		t.Errorf("stdout %q", out.String())
	}
}

package gen

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"log/slog"
	"regexp"

	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	sconfig "github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

// grafanaDashboard is the part of Grafana's JSON model the checks read.
type grafanaDashboard struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title      string         `json:"title"`
		Datasource *datasourceRef `json:"datasource"`
		Targets    []struct {
			Expr       string         `json:"expr"`
			Datasource *datasourceRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

// recordedNames returns the names recorded by the generated rules file.
func recordedNames(t *testing.T, files Files) map[string]bool {
	t.Helper()
	var groups rulefmt.RuleGroups
	if err := yaml.Unmarshal(files[RulesFile], &groups); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names[r.Record] = true
			}
		}
	}
	return names
}

// TestDashboards checks, in recorded and raw mode, that every panel query
// parses with the PromQL parser, that every datasource reference resolves
// to the dashboard's Prometheus datasource variable, and (recorded mode)
// that every servescope:* series a panel reads is recorded by the rules.
func TestDashboards(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	for _, raw := range []bool{false, true} {
		files := generateT(t, raw)
		recorded := recordedNames(t, files)
		n := 0
		for _, path := range files.Paths() {
			if !strings.HasPrefix(path, "grafana/dashboards/") {
				continue
			}
			var d grafanaDashboard
			if err := json.Unmarshal(files[path], &d); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			vars := map[string]string{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v.Type
				if v.Datasource != nil {
					checkDatasource(t, path, "variable "+v.Name, v.Datasource, vars)
				}
			}
			if vars[DatasourceVar] != "datasource" {
				t.Errorf("%s: no datasource variable %q", path, DatasourceVar)
			}
			if len(d.Panels) == 0 {
				t.Errorf("%s: no panels", path)
			}
			for _, pl := range d.Panels {
				checkDatasource(t, path, pl.Title, pl.Datasource, vars)
				if len(pl.Targets) == 0 {
					t.Errorf("%s: panel %s has no query", path, pl.Title)
				}
				for _, tg := range pl.Targets {
					n++
					checkDatasource(t, path, pl.Title, tg.Datasource, vars)
					e, err := p.ParseExpr(tg.Expr)
					if err != nil {
						t.Errorf("%s: panel %s: %v", path, pl.Title, err)
						continue
					}
					for _, m := range selectorNames(e) {
						if strings.HasPrefix(m, "servescope:") && !recorded[m] {
							t.Errorf("%s: panel %s reads %s, which no rule records", path, pl.Title, m)
						}
						if !raw && !strings.HasPrefix(m, "servescope:") && m != "ALERTS" {
							t.Errorf("%s: panel %s reads raw series %s in recorded mode", path, pl.Title, m)
						}
						if strings.Contains(tg.Expr, "$") {
							checkVariables(t, path, tg.Expr, vars)
						}
					}
				}
			}
		}
		if n < 40 {
			t.Errorf("raw=%v: only %d panel queries", raw, n)
		}
	}
}

// checkDatasource requires a reference to the Prometheus datasource
// variable, which must be declared.
func checkDatasource(t *testing.T, path, what string, ds *datasourceRef, vars map[string]string) {
	t.Helper()
	if ds == nil {
		t.Errorf("%s: %s: no datasource", path, what)
		return
	}
	name, ok := strings.CutPrefix(ds.UID, "${")
	name, ok2 := strings.CutSuffix(name, "}")
	if ds.Type != "prometheus" || !ok || !ok2 || vars[name] != "datasource" {
		t.Errorf("%s: %s: datasource %+v does not resolve to a datasource variable", path, what, *ds)
	}
}

// checkVariables requires every $name in a query to be a declared variable.
func checkVariables(t *testing.T, path, expr string, vars map[string]string) {
	t.Helper()
	for _, part := range strings.Split(expr, "$")[1:] {
		name := strings.FieldsFunc(part, func(r rune) bool {
			return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		})
		if len(name) > 0 && part[0] != '1' && vars[name[0]] == "" {
			t.Errorf("%s: query %q uses undeclared variable $%s", path, expr, name[0])
		}
	}
}

func selectorNames(e parser.Expr) []string {
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestPromtool loads the generated prometheus.yml with Prometheus's config
// package (through servescope's loader, which registers Kubernetes
// discovery) and runs promtool check rules and check config. Debian's
// promtool is built without Kubernetes service discovery; when it refuses
// kubernetes_sd_configs for that reason alone, the config is checked again
// with each kubernetes_sd_configs block replaced by static_configs, so the
// relabelling, TLS, authorization and rule files are still checked by it.
// promtool (Debian's or upstream's, which has Kubernetes discovery) checks
// that credential files exist: the in-cluster token path points at a file
// in the test's directory for every check config.
func TestPromtool(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	dir := t.TempDir()
	for _, p := range []string{RulesFile, PrometheusConfig} {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), files[p], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, filepath.Base(PrometheusConfig))
	if _, err := sconfig.LoadFile(cfgPath, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("servescope config loader: %v", err)
	}
	if _, err := promconfig.LoadFile(cfgPath, false, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("prometheus config: %v", err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus); skipping promtool check rules/config")
	}
	run := func(args ...string) (string, error) {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("check", "rules", filepath.Join(dir, filepath.Base(RulesFile))); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := bytes.ReplaceAll(files[PrometheusConfig], []byte(saTokenFile), []byte(token))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run("check", "config", cfgPath)
	if err == nil {
		return
	}
	if !strings.Contains(out, "field kubernetes_sd_configs not found") {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	t.Log("this promtool has no Kubernetes service discovery (Debian build); checking the config with static_configs in its place")
	// A kubernetes_sd_configs block of a job: the key and its deeper lines.
	sd := regexp.MustCompile(`(?m)^    kubernetes_sd_configs:\n(      .*\n)+`)
	static := sd.ReplaceAll(cfg, []byte("    static_configs:\n      - targets: [\"127.0.0.1:9090\"]\n"))
	if bytes.Contains(static, []byte("kubernetes_sd_configs")) {
		t.Fatal("a kubernetes_sd_configs block was not replaced")
	}
	if err := os.WriteFile(cfgPath, static, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("check", "config", cfgPath); err != nil {
		t.Errorf("promtool check config (static targets): %v\n%s", err, out)
	}
}

// TestDashboardsCluster: with a cluster label of its own name, every
// dashboard declares the cluster variable (values of that label, "All" as
// .*), every selector of every panel query matches the label against it,
// and every `by` grouping and `on` matching keeps the label, in recorded
// and raw mode.
func TestDashboardsCluster(t *testing.T) {
	t.Parallel()
	const label = "k8s_cluster"
	cat, err := schema.New(schema.Options{ClusterLabel: label})
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(parser.Options{})
	for _, raw := range []bool{false, true} {
		files, err := Generate(Input{Catalog: cat, Options: Options{RawQueries: raw}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, path := range files.Paths() {
			if !strings.HasPrefix(path, "grafana/dashboards/") {
				continue
			}
			var d dashboard
			if err := json.Unmarshal(files[path], &d); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			i := slices.IndexFunc(d.Templating.List, func(v tvar) bool { return v.Name == ClusterVar })
			if i < 0 {
				t.Errorf("raw=%v %s: no %s variable", raw, path, ClusterVar)
				continue
			}
			if v := d.Templating.List[i]; !v.IncludeAll || v.AllValue != ".*" || !v.Multi || !strings.HasSuffix(v.Definition, ", "+label+")") {
				t.Errorf("raw=%v %s: cluster variable %+v", raw, path, v)
			}
			for _, pl := range d.Panels {
				for _, tg := range pl.Targets {
					n++
					e, err := p.ParseExpr(tg.Expr)
					if err != nil {
						t.Fatalf("%s: %s: %v", path, pl.Title, err)
					}
					checkClusterKept(t, path+": "+pl.Title, e, label)
					if tg.LegendFormat != "" && !strings.Contains(tg.LegendFormat, "{{"+label+"}}") {
						t.Errorf("raw=%v %s: %s: legend %q does not name the cluster", raw, path, pl.Title, tg.LegendFormat)
					}
				}
			}
		}
		if n < 40 {
			t.Errorf("raw=%v: only %d panel queries", raw, n)
		}
	}
}

func checkClusterKept(t *testing.T, what string, e parser.Expr, label string) {
	t.Helper()
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if !slices.ContainsFunc(n.LabelMatchers, func(m *labels.Matcher) bool {
				return m.Name == label && m.Type == labels.MatchRegexp && m.Value == "$"+ClusterVar
			}) {
				t.Errorf("%s: selector %s does not select $%s", what, n, ClusterVar)
			}
		case *parser.AggregateExpr:
			if !n.Without && !slices.Contains(n.Grouping, label) {
				t.Errorf("%s: %s merges clusters", what, n)
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && vm.On && !slices.Contains(vm.MatchingLabels, label) {
				t.Errorf("%s: %s joins across clusters", what, n)
			}
		}
		return nil
	})
}

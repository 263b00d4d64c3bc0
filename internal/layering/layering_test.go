package layering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/servescope/servescope/"

// layers ranks the module's packages by path prefix (longest prefix wins):
// a package may import its own layer or a lower rank. It is the line
// "cmd → app → present → analyze → collect/sim → store → schema/config →
// located" of ARCHITECTURE.md.
var layers = []struct {
	prefix, name string
	rank         int
}{
	{"cmd/", "cmd", 8},
	{"internal/app", "app", 7},
	{"internal/present/", "present", 6},
	{"internal/analyze/", "analyze", 5},
	{"internal/collect/", "collect", 4},
	{"internal/sim", "sim", 4},
	{"internal/store", "store", 3},
	{"internal/schema", "schema", 2},
	{"internal/config", "config", 2},
	{"internal/located", "located", 1},
	{"internal/model", "model", 1},
	// Data: the shipped scenarios, embedded (read by internal/sim).
	{"examples/scenarios", "examples", 1},
	// Test kit: imported by test files only, imports nothing of ours above it.
	{"internal/testutil/", "testutil", 1},
	{"internal/layering", "layering", 0},
	// Integration tests against the simulator's truth: at the top (they may
	// build stores with app's backfill); nothing imports them.
	{"internal/schema/simcheck", "simcheck", 9},
	{"internal/analyze/cost/simcheck", "simcheck", 9},
	{"internal/analyze/diagnose/simcheck", "simcheck", 9},
}

// testOnly are imported by _test.go files only, and never by code that
// links into the binary.
var testOnly = []string{"internal/testutil/", "internal/schema/schematest", "internal/layering"}

// simcheck packages hold tests that compare analysis with the simulator's
// truth; they have no code of their own besides a package comment.
var simcheck = []string{"internal/schema/simcheck", "internal/analyze/cost/simcheck", "internal/analyze/diagnose/simcheck"}

// simImporters may link the simulator in code that ships.
var simImporters = []string{"cmd/servescope", "internal/app"}

// chunkenc is the vocabulary of storage.Series (its sample iterators, which
// the storage package itself imports), not the TSDB: any package
// implementing a series may use it.
const chunkenc = "github.com/prometheus/prometheus/tsdb/chunkenc"

// adapters: each heavy dependency (an import path prefix) and the only
// packages whose shipped code imports it directly.
var adapters = []struct {
	dep     string
	allowed []string
}{
	{"github.com/prometheus/prometheus/tsdb", []string{"internal/store/tsdb"}},
	{"github.com/prometheus/prometheus/promql", []string{"internal/analyze/query", "internal/analyze/rules"}}, // the engine; promql/parser is vocabulary
	{"github.com/prometheus/prometheus/rules", []string{"internal/analyze/rules", "internal/present/alert"}},
	{"github.com/prometheus/prometheus/scrape", []string{"internal/collect/scrape"}},
	{"github.com/prometheus/prometheus/notifier", []string{"internal/present/alert"}},
	// The config registers the discovery mechanisms it accepts; app
	// registers their metrics; alert discovers Alertmanagers.
	{"github.com/prometheus/prometheus/discovery", []string{"internal/collect/scrape", "internal/collect/discovery", "internal/config", "internal/present/alert", "internal/app"}},
	// store/tsdb applies remote_write and global.external_labels.
	{"github.com/prometheus/prometheus/config", []string{"internal/config", "internal/collect/scrape", "internal/store/tsdb"}},
	// Remote write reads the store's WAL; the agent store is built on it.
	{"github.com/prometheus/prometheus/storage/remote", []string{"internal/store/tsdb"}},
	{"k8s.io/client-go", []string{"internal/collect/discovery"}},
	{"github.com/prometheus/client_golang/api", []string{"internal/analyze/query"}},
	// Prometheus's test kit never ships.
	{"github.com/prometheus/prometheus/promql/promqltest", nil},
	{"github.com/prometheus/prometheus/util/teststorage", nil},
}

// light packages must not link (even indirectly) client-go or Prometheus's
// config and discovery: the analysis, the catalog, the simulator, storage
// contracts and the terminal and web views stay small and testable.
var light = []string{
	"internal/analyze/cost", "internal/analyze/diagnose", "internal/analyze/health", "internal/analyze/query", "internal/analyze/slo",
	"internal/collect/parse", "internal/located", "internal/model", "internal/schema", "internal/sim",
	"internal/store", "internal/present/cli", "internal/present/web",
}

var heavyForLight = []string{"k8s.io/client-go", "github.com/prometheus/prometheus/config", "github.com/prometheus/prometheus/discovery"}

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
	GoFiles      []string
}

func (p *pkg) rel() string { return strings.TrimPrefix(p.ImportPath, module) }

func listPackages(t *testing.T) []*pkg {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-json", "../../...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		p := new(pkg)
		if err := dec.Decode(p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages, want the whole module", len(pkgs))
	}
	return pkgs
}

func hasPrefix(path string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool {
		return path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/")
	})
}

func layerOf(rel string) (name string, rank int, ok bool) {
	best := -1
	for i, l := range layers {
		if strings.HasPrefix(rel, l.prefix) && (best < 0 || len(l.prefix) > len(layers[best].prefix)) {
			best = i
		}
	}
	if best < 0 {
		return "", 0, false
	}
	return layers[best].name, layers[best].rank, true
}

func internal(imports []string) []string {
	var out []string
	for _, i := range imports {
		if rel, ok := strings.CutPrefix(i, module); ok {
			out = append(out, rel)
		}
	}
	return out
}

// check returns the rule an import from package from (test code or not)
// to package to breaks, or "".
func check(from, to string, test bool) string {
	if from == to {
		return ""
	}
	fl, fr, ok := layerOf(from)
	if !ok {
		return from + " is in no layer: add it to layers and ARCHITECTURE.md"
	}
	tl, tr, ok := layerOf(to)
	if !ok {
		return to + " is in no layer: add it to layers and ARCHITECTURE.md"
	}
	if hasPrefix(to, testOnly) && !test {
		return "test-only package imported by shipped code"
	}
	if hasPrefix(to, simcheck) {
		return "simcheck packages are tests, not libraries"
	}
	if to == "internal/sim" {
		if test && (hasPrefix(from, simImporters) || hasPrefix(from, simcheck)) {
			return ""
		}
		if !test && hasPrefix(from, simImporters) {
			return ""
		}
		return "only app and cmd link the simulator; only simcheck tests compare with its truth"
	}
	if test && hasPrefix(to, testOnly) {
		return ""
	}
	// The test kit drives analysis (the script runner builds engines): it
	// may import up to the analyze layer.
	if strings.HasPrefix(from, "internal/testutil/") && tr <= 5 {
		return ""
	}
	if tr > fr || (tr == fr && tl != fl) {
		return fmt.Sprintf("imports upward or across: %s (%s, rank %d) → %s (%s, rank %d)", from, fl, fr, to, tl, tr)
	}
	return ""
}

// TestLayering lists every package once and checks the rules on it.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	t.Run("layers", func(t *testing.T) { checkLayers(t, pkgs) })
	t.Run("adapters", func(t *testing.T) { checkAdapters(t, pkgs) })
	t.Run("light", func(t *testing.T) { checkLight(t, pkgs) })
	t.Run("documented", func(t *testing.T) { checkDocumented(t, pkgs) })
}

// checkDocumented wants one table line per package in ARCHITECTURE.md.
func checkDocumented(t *testing.T, pkgs []*pkg) {
	b, err := os.ReadFile(filepath.Join("..", "..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if n := strings.Count(string(b), "\n| `"+p.rel()+"` |"); n != 1 {
			t.Errorf("ARCHITECTURE.md has %d table lines for %s, want one", n, p.rel())
		}
	}
}

func checkLayers(t *testing.T, pkgs []*pkg) {
	for _, p := range pkgs {
		from := p.rel()
		for _, to := range internal(p.Imports) {
			if why := check(from, to, hasPrefix(from, testOnly) || hasPrefix(from, simcheck)); why != "" {
				t.Errorf("%s imports %s: %s", from, to, why)
			}
		}
		for _, to := range internal(append(slices.Clone(p.TestImports), p.XTestImports...)) {
			if why := check(from, to, true); why != "" {
				t.Errorf("%s (tests) import %s: %s", from, to, why)
			}
		}
		if hasPrefix(from, simcheck) && len(p.GoFiles) > 1 {
			t.Errorf("%s: simcheck packages hold tests only, found %v", from, p.GoFiles)
		}
	}
}

func checkAdapters(t *testing.T, pkgs []*pkg) {
	for _, p := range pkgs {
		from := p.rel()
		if hasPrefix(from, testOnly) || hasPrefix(from, simcheck) {
			continue // test kits use Prometheus's test kit
		}
		for _, imp := range p.Imports {
			for _, a := range adapters {
				if !hasPrefix(imp, []string{a.dep}) || (a.dep == "github.com/prometheus/prometheus/promql" && imp != a.dep) || imp == chunkenc {
					continue
				}
				if !slices.Contains(a.allowed, from) {
					t.Errorf("%s imports %s: only %v may (ARCHITECTURE.md)", from, imp, a.allowed)
				}
			}
		}
	}
}

func checkLight(t *testing.T, pkgs []*pkg) {
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !slices.Contains(light, p.rel()) {
			continue
		}
		seen[p.rel()] = true
		for _, d := range p.Deps {
			if hasPrefix(d, heavyForLight) {
				t.Errorf("%s links %s", p.rel(), d)
				break
			}
		}
	}
	for _, l := range light {
		if !seen[l] {
			t.Errorf("light package %s not found: update the list", l)
		}
	}
}

// TestCheck shows that each rule fails when broken.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		test     bool
		bad      bool
	}{
		{"internal/analyze/diagnose", "internal/app", false, true},
		{"internal/analyze/diagnose", "internal/app", true, true},
		{"internal/analyze/diagnose", "internal/sim", true, true},
		{"internal/analyze/cost", "internal/sim", false, true},
		{"internal/sim", "internal/config", false, false}, // rank 2 under sim's 4: allowed by rank
		{"internal/store", "internal/collect/parse", false, true},
		{"internal/collect/parse", "internal/sim", false, true},
		{"internal/sim", "internal/collect/parse", false, true}, // same rank, other layer
		{"internal/schema", "internal/config", false, true},
		{"internal/present/web", "internal/testutil/proc", false, true},
		{"internal/present/web", "internal/testutil/proc", true, false},
		{"internal/analyze/cost/simcheck", "internal/sim", true, false},
		{"internal/app", "internal/sim", false, false},
		{"internal/present/cli", "internal/present/api", true, false},
		{"internal/analyze/cost", "internal/analyze/query", false, false},
		{"internal/app", "internal/schema/simcheck", true, true},
		{"internal/analyze/diagnose/simcheck", "internal/app", true, false},
		{"internal/newthing", "internal/schema", false, true},
		{"internal/testutil/script", "internal/analyze/query", false, false},
		{"internal/testutil/script", "internal/app", false, true},
		{"internal/testutil/script", "internal/sim", false, true},
	} {
		if got := check(tc.from, tc.to, tc.test) != ""; got != tc.bad {
			t.Errorf("check(%s → %s, test=%v) refused=%v, want %v", tc.from, tc.to, tc.test, got, tc.bad)
		}
	}
}

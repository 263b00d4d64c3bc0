package diagnose_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// TestScripts runs testdata/*.test, promqltest-style scripts: a `load`
// block of series (promqltest's syntax), then `diagnose at <T> window <W>`
// blocks of expectations, one per line:
//
//	primary <namespace/pod> <state>      the pod's primary state
//	finding <subject> <state>            some finding about the subject
//	no-finding <subject> <state>         no such finding
//	caveat <subject> <state>             the finding carries a caveat
//	gpus <subject> <state> <n>           the finding's GPUs to add or free
//
// Subjects are written as Subject.String(): namespace/pod, hostname/uuid
// for GPUs, the model name, or fleet.
func TestScripts(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			runScript(t, cat, f)
		})
	}
}

type evalBlock struct {
	line       int
	at, window time.Duration
	expect     []expectation
}

type expectation struct {
	line                 int
	kind, subject, state string
	n                    int
}

func parseScript(t *testing.T, path string) (load string, evals []evalBlock) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var loadLines []string
	inLoad := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			inLoad = false
		case strings.HasPrefix(line, "load "):
			inLoad = true
			loadLines = append(loadLines, "", line)
		case inLoad:
			loadLines = append(loadLines, "  "+line)
		case strings.HasPrefix(line, "diagnose "):
			var at, window string
			if _, err := fmt.Sscanf(line, "diagnose at %s window %s", &at, &window); err != nil {
				t.Fatalf("%s:%d: %q: want `diagnose at <T> window <W>`: %v", path, n, line, err)
			}
			e := evalBlock{line: n}
			if e.at, err = time.ParseDuration(at); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			if e.window, err = time.ParseDuration(window); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			evals = append(evals, e)
		default:
			if len(evals) == 0 {
				t.Fatalf("%s:%d: expectation %q outside a diagnose block", path, n, line)
			}
			fs := strings.Fields(line)
			if len(fs) < 3 {
				t.Fatalf("%s:%d: %q: want <kind> <subject> <state>", path, n, line)
			}
			x := expectation{line: n, kind: fs[0], subject: fs[1], state: fs[2]}
			if x.kind == "gpus" {
				if len(fs) != 4 {
					t.Fatalf("%s:%d: gpus wants a count", path, n)
				}
				fmt.Sscan(fs[3], &x.n)
			}
			e := &evals[len(evals)-1]
			e.expect = append(e.expect, x)
		}
	}
	return strings.Join(loadLines, "\n") + "\n", evals
}

func runScript(t *testing.T, cat *schema.Catalog, path string) {
	load, evals := parseScript(t, path)
	st := promqltest.LoadedStorage(t, load)
	eng := query.NewEngine(st, query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e7, Registerer: prometheus.NewRegistry()})
	d, err := diagnose.New(diagnose.Options{Querier: eng, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evals {
		rep, err := d.Diagnose(t.Context(), time.Unix(0, 0).UTC().Add(e.at), e.window)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, e.line, err)
		}
		for _, x := range e.expect {
			checkExpectation(t, path, rep, x)
		}
	}
}

func checkExpectation(t *testing.T, path string, rep *diagnose.Report, x expectation) {
	t.Helper()
	where := fmt.Sprintf("%s:%d", path, x.line)
	var found *diagnose.Finding
	var about []string
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.Subject.String() != x.subject {
			continue
		}
		about = append(about, string(f.State))
		if string(f.State) == x.state && found == nil {
			found = f
		}
	}
	switch x.kind {
	case "primary":
		for _, p := range rep.Pods {
			if p.Subject.String() == x.subject {
				if string(p.Primary) != x.state {
					t.Errorf("%s: %s primary %s, want %s (findings %v)", where, x.subject, p.Primary, x.state, about)
				}
				return
			}
		}
		t.Errorf("%s: no pod %s diagnosed", where, x.subject)
	case "finding":
		if found == nil {
			t.Errorf("%s: no %s finding for %s (findings %v)", where, x.state, x.subject, about)
		}
	case "no-finding":
		if found != nil {
			t.Errorf("%s: unexpected %s finding for %s: %s", where, x.state, x.subject, found.Summary)
		}
	case "caveat":
		if found == nil || len(found.Caveats) == 0 {
			t.Errorf("%s: want a %s finding with caveats for %s, got %+v", where, x.state, x.subject, found)
		}
	case "gpus":
		if found == nil || found.GPUs != x.n {
			t.Errorf("%s: want a %s finding for %s with GPUs %d, got %+v", where, x.state, x.subject, x.n, found)
		}
	default:
		t.Fatalf("%s: unknown expectation %q", where, x.kind)
	}
}

package diagnose_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
//	action <subject> <state> <text>      the finding's action contains text
//	not-reported <subject> <state> <sig> the finding's evidence shows sig as not reported
//	model <namespace/pod> <name>         the pod's model name
//	engine <namespace/pod> <exporter>    the engine the catalog recognised
//	capacity <model> <gpu kind> <delta>  the capacity advice for the model on that
//	                                     kind of GPU (spaces in the kind as _)
//	step <any> <duration>                the snapshot's step (report window / steps)
//	error <any> <text>                   the diagnosis fails with an error containing text
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
	text                 string
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
			switch x.kind {
			case "gpus":
				if len(fs) != 4 {
					t.Fatalf("%s:%d: gpus wants a count", path, n)
				}
				if _, err := fmt.Sscan(fs[3], &x.n); err != nil {
					t.Fatalf("%s:%d: gpus count: %v", path, n, err)
				}
			case "action", "not-reported":
				if len(fs) < 4 {
					t.Fatalf("%s:%d: %s wants <subject> <state> <text>", path, n, x.kind)
				}
				x.text = strings.Join(fs[3:], " ")
			case "capacity":
				if len(fs) != 4 {
					t.Fatalf("%s:%d: capacity wants <model> <gpu kind> <delta>", path, n)
				}
				x.text = strings.ReplaceAll(fs[2], "_", " ")
				if _, err := fmt.Sscan(fs[3], &x.n); err != nil {
					t.Fatalf("%s:%d: capacity delta: %v", path, n, err)
				}
			case "error", "step":
				x.text = strings.Join(fs[2:], " ")
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
		at := time.Unix(0, 0).UTC().Add(e.at)
		rep, err := d.Diagnose(t.Context(), at, e.window)
		if i := slices.IndexFunc(e.expect, func(x expectation) bool { return x.kind == "error" }); i >= 0 {
			if err == nil || !strings.Contains(err.Error(), e.expect[i].text) {
				t.Errorf("%s:%d: want an error containing %q, got %v", path, e.expect[i].line, e.expect[i].text, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", path, e.line, err)
		}
		snap, err := d.Snapshot(t.Context(), at, e.window)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, e.line, err)
		}
		for _, x := range e.expect {
			checkExpectation(t, path, rep, snap, x)
		}
	}
}

func checkExpectation(t *testing.T, path string, rep *diagnose.Report, snap *diagnose.Snapshot, x expectation) {
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
	case "action":
		if found == nil || !strings.Contains(found.Action, x.text) {
			t.Errorf("%s: want a %s finding for %s whose action names %q, got %+v", where, x.state, x.subject, x.text, found)
		}
	case "not-reported":
		if found == nil {
			t.Errorf("%s: no %s finding for %s (findings %v)", where, x.state, x.subject, about)
			return
		}
		i := slices.IndexFunc(found.Evidence, func(e diagnose.Evidence) bool { return e.Signal == x.text })
		if i < 0 || !found.Evidence[i].NotReported {
			t.Errorf("%s: %s evidence of %s %s is not 'not reported': %+v", where, x.text, x.subject, x.state, found.Evidence)
		}
	case "model", "engine":
		i := slices.IndexFunc(snap.Pods, func(p diagnose.Pod) bool { return p.Namespace+"/"+p.Pod == x.subject })
		if i < 0 {
			t.Errorf("%s: no pod %s in the snapshot", where, x.subject)
			return
		}
		if got := map[string]string{"model": snap.Pods[i].Model, "engine": snap.Pods[i].Engine}[x.kind]; got != x.state {
			t.Errorf("%s: %s %s is %q, want %q", where, x.subject, x.kind, got, x.state)
		}
	case "capacity":
		i := slices.IndexFunc(rep.Capacity, func(c diagnose.Capacity) bool { return c.Model == x.subject && c.Kind() == x.text })
		if i < 0 {
			t.Errorf("%s: no capacity advice for %s on %s: %+v", where, x.subject, x.text, rep.Capacity)
			return
		}
		if c := rep.Capacity[i]; c.Delta != x.n {
			t.Errorf("%s: capacity %s on %s: delta %d (%s), want %d", where, x.subject, x.text, c.Delta, c.Advice, x.n)
		}
	case "step":
		want, err := time.ParseDuration(x.text)
		if err != nil {
			t.Fatalf("%s: step %q: %v", where, x.text, err)
		}
		if snap.Window.Step != want {
			t.Errorf("%s: step %s, want %s", where, snap.Window.Step, want)
		}
	default:
		t.Fatalf("%s: unknown expectation %q", where, x.kind)
	}
}

package diagnose_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/script"
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
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	script.Run(t, filepath.Join("testdata", "*.test"), map[string]script.Verb{"diagnose": func(t *testing.T, q query.Querier, s *script.Script, c *script.Command) any {
		var at, window time.Duration
		if len(c.Args) != 4 || c.Args[0] != "at" || c.Args[2] != "window" {
			t.Fatalf("%s: %q: want `diagnose at <T> window <W>`", c.Where(s), c.Text)
		}
		if at, err = time.ParseDuration(c.Args[1]); err == nil {
			window, err = time.ParseDuration(c.Args[3])
		}
		if err != nil {
			t.Fatalf("%s: %v", c.Where(s), err)
		}
		d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := d.Diagnose(t.Context(), time.Unix(0, 0).UTC().Add(at), window)
		if err != nil {
			t.Fatalf("%s: %v", c.Where(s), err)
		}
		for _, l := range c.Body {
			if len(l.Fields) < 3 {
				t.Fatalf("%s:%d: want <kind> <subject> <state>", s.Path, l.Line)
			}
			x := expectation{line: l.Line, kind: l.Fields[0], subject: l.Fields[1], state: l.Fields[2]}
			if x.kind == "gpus" {
				if len(l.Fields) != 4 {
					t.Fatalf("%s:%d: gpus wants a count", s.Path, l.Line)
				}
				if x.n, err = strconv.Atoi(l.Fields[3]); err != nil {
					t.Fatalf("%s:%d: %v", s.Path, l.Line, err)
				}
			}
			checkExpectation(t, s.Path, rep, x)
		}
		return nil
	}})
}

type expectation struct {
	line                 int
	kind, subject, state string
	n                    int
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

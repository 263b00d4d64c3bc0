package diagnose_test

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/script"
)

// TestScripts runs testdata/*.test, promqltest-style scripts: a `load`
// block of series (promqltest's syntax), then `diagnose at <T> window <W>`
// [cluster=<name>]` blocks of expectations, one per line:
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
//	role <namespace/pod> <role>          the pod's role in the report (pod_role)
//	no-pod <subject> <any>               the pod is not diagnosed
//	queue <queue/name> <state>           the ClusterQueue's primary state
//	view <queue/name> <field> <value>    a number of the queue's view (QueueView
//	                                     fields; "not-reported" for none)
//	capacity <model> <gpu kind> <delta>  the capacity advice for the model on that
//	                                     kind of GPU (spaces in the kind as _)
//	step <any> <duration>                the snapshot's step (report window / steps)
//	unusable <hostname/uuid> <xids>      the GPU is in the report's unusable list with
//	                                     these XID codes (comma-separated, - for none)
//	usable <hostname/uuid> <any>         the GPU is not in the unusable list
//	error <any> <text>                   the diagnosis fails with an error containing text
//
// Subjects are written as Subject.String(): namespace/pod, hostname/uuid
// for GPUs, the model name, or fleet, after `<cluster>:` when the series
// carry a cluster label. cluster= diagnoses that cluster only.
func TestScripts(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	script.Run(t, filepath.Join("testdata", "*.test"), map[string]script.Verb{"diagnose": func(t *testing.T, q query.Querier, s *script.Script, c *script.Command) any {
		var at, window time.Duration
		var only string
		if len(c.Args) == 5 && strings.HasPrefix(c.Args[4], "cluster=") {
			only = strings.TrimPrefix(c.Args[4], "cluster=")
		} else if len(c.Args) != 4 || c.Args[0] != "at" || c.Args[2] != "window" {
			t.Fatalf("%s: %q: want `diagnose at <T> window <W> [cluster=<name>]`", c.Where(s), c.Text)
		}
		var err error
		if at, err = time.ParseDuration(c.Args[1]); err == nil {
			window, err = time.ParseDuration(c.Args[3])
		}
		if err != nil {
			t.Fatalf("%s: %v", c.Where(s), err)
		}
		var expect []expectation
		for _, l := range c.Body {
			fs := l.Fields
			if len(fs) < 3 {
				t.Fatalf("%s:%d: want <kind> <subject> <state>", s.Path, l.Line)
			}
			x := expectation{line: l.Line, kind: fs[0], subject: fs[1], state: fs[2]}
			switch x.kind {
			case "gpus":
				if len(fs) != 4 {
					t.Fatalf("%s:%d: gpus wants a count", s.Path, l.Line)
				}
				if x.n, err = strconv.Atoi(fs[3]); err != nil {
					t.Fatalf("%s:%d: gpus count: %v", s.Path, l.Line, err)
				}
			case "action", "not-reported":
				if len(fs) < 4 {
					t.Fatalf("%s:%d: %s wants <subject> <state> <text>", s.Path, l.Line, x.kind)
				}
				x.text = strings.Join(fs[3:], " ")
			case "evidence":
				if len(fs) != 5 {
					t.Fatalf("%s:%d: evidence wants <subject> <state> <signal> <value>", s.Path, l.Line)
				}
				x.text = fs[3]
				if x.value, err = strconv.ParseFloat(fs[4], 64); err != nil {
					t.Fatalf("%s:%d: evidence value: %v", s.Path, l.Line, err)
				}
			case "capacity":
				if len(fs) != 4 {
					t.Fatalf("%s:%d: capacity wants <model> <gpu kind> <delta>", s.Path, l.Line)
				}
				x.text = strings.ReplaceAll(fs[2], "_", " ")
				if x.n, err = strconv.Atoi(fs[3]); err != nil {
					t.Fatalf("%s:%d: capacity delta: %v", s.Path, l.Line, err)
				}
			case "view":
				if len(fs) != 4 {
					t.Fatalf("%s:%d: view wants <queue/name> <field> <value>", s.Path, l.Line)
				}
				x.text = fs[3]
			case "error", "step":
				x.text = strings.Join(fs[2:], " ")
			}
			expect = append(expect, x)
		}
		// The diagnosis and then its snapshot read the same queries: the
		// memo evaluates each once.
		d, err := diagnose.New(diagnose.Options{Querier: cluster.Scope(script.NewMemo(q), "", only), Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		end := time.Unix(0, 0).UTC().Add(at)
		rep, err := d.Diagnose(t.Context(), end, window)
		if i := slices.IndexFunc(expect, func(x expectation) bool { return x.kind == "error" }); i >= 0 {
			if err == nil || !strings.Contains(err.Error(), expect[i].text) {
				t.Errorf("%s:%d: want an error containing %q, got %v", s.Path, expect[i].line, expect[i].text, err)
			}
			return nil
		}
		if err != nil {
			t.Fatalf("%s: %v", c.Where(s), err)
		}
		snap, err := d.Snapshot(t.Context(), end, window)
		if err != nil {
			t.Fatalf("%s: %v", c.Where(s), err)
		}
		for _, x := range expect {
			checkExpectation(t, s.Path, rep, snap, x)
		}
		return nil
	}})
}

type expectation struct {
	line                 int
	kind, subject, state string
	text                 string
	n                    int
	value                float64
}

func checkExpectation(t *testing.T, path string, rep *diagnose.Report, snap *diagnose.Snapshot, x expectation) {
	t.Helper()
	where := fmt.Sprintf("%s:%d", path, x.line)
	var found *diagnose.Finding
	var about []string
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if subjectName(f.Subject) != x.subject {
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
			if subjectName(p.Subject) == x.subject {
				if string(p.Primary) != x.state {
					t.Errorf("%s: %s primary %s, want %s (findings %v)", where, x.subject, p.Primary, x.state, about)
				}
				return
			}
		}
		t.Errorf("%s: no pod %s diagnosed", where, x.subject)
	case "queue":
		for _, q := range rep.Queues {
			if subjectName(q.Subject) == x.subject {
				if string(q.Primary) != x.state {
					t.Errorf("%s: %s primary %s, want %s (findings %v)", where, x.subject, q.Primary, x.state, about)
				}
				return
			}
		}
		t.Errorf("%s: no queue %s diagnosed", where, x.subject)
	case "view":
		checkQueueView(t, where, rep, x)
	case "role":
		i := slices.IndexFunc(rep.Pods, func(p diagnose.PodStatus) bool { return subjectName(p.Subject) == x.subject })
		if i < 0 || rep.Pods[i].Role != x.state {
			t.Errorf("%s: want pod %s with role %s in the report", where, x.subject, x.state)
		}
	case "no-pod":
		if slices.ContainsFunc(rep.Pods, func(p diagnose.PodStatus) bool { return subjectName(p.Subject) == x.subject }) {
			t.Errorf("%s: pod %s diagnosed", where, x.subject)
		}
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
	case "evidence":
		if found == nil {
			t.Errorf("%s: no %s finding for %s (findings %v)", where, x.state, x.subject, about)
			return
		}
		i := slices.IndexFunc(found.Evidence, func(e diagnose.Evidence) bool { return e.Signal == x.text })
		if i < 0 || found.Evidence[i].NotReported || math.Abs(found.Evidence[i].Value-x.value) > 0.01*max(1, math.Abs(x.value)) {
			t.Errorf("%s: %s evidence of %s %s is not %g: %+v", where, x.text, x.subject, x.state, x.value, found.Evidence)
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
		i := slices.IndexFunc(rep.Capacity, func(c diagnose.Capacity) bool {
			return subjectName(diagnose.Subject{Level: diagnose.LevelModel, Cluster: c.Cluster, Model: c.Model}) == x.subject && c.Kind() == x.text
		})
		if i < 0 {
			t.Errorf("%s: no capacity advice for %s on %s: %+v", where, x.subject, x.text, rep.Capacity)
			return
		}
		if c := rep.Capacity[i]; c.Delta != x.n {
			t.Errorf("%s: capacity %s on %s: delta %d (%s), want %d", where, x.subject, x.text, c.Delta, c.Advice, x.n)
		}
	case "unusable", "usable":
		i := slices.IndexFunc(rep.Unusable, func(u health.Unusable) bool { return u.Hostname+"/"+u.UUID == x.subject })
		switch {
		case x.kind == "usable" && i >= 0:
			t.Errorf("%s: %s listed unusable: %+v", where, x.subject, rep.Unusable[i])
		case x.kind == "unusable" && i < 0:
			t.Errorf("%s: %s not listed unusable: %+v", where, x.subject, rep.Unusable)
		case x.kind == "unusable":
			var got []string
			for _, c := range rep.Unusable[i].XIDs {
				got = append(got, strconv.Itoa(c))
			}
			if s := cmp.Or(strings.Join(got, ","), "-"); s != x.state {
				t.Errorf("%s: %s XIDs %s, want %s", where, x.subject, s, x.state)
			}
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

// subjectName is a subject as scripts write it: cluster:subject when the
// series carry a cluster label.
func subjectName(s diagnose.Subject) string {
	if s.Cluster != "" {
		return s.Cluster + ":" + s.String()
	}
	return s.String()
}

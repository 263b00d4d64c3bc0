package rules

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	prules "github.com/prometheus/prometheus/rules"

	"github.com/servescope/servescope/internal/schema"
)

// TestFoldedRulesEqual: every rule of the catalog, and label_replace chains
// the catalog does not write (labels deleted, regexes that do not match,
// chains under group, a subquery or parentheses, chains that make two
// series equal, invalid ones), give folded, through the shared reads as the
// rule manager evaluates them, the very series, values and errors they
// give as written; the catalog's chains are folded and still share reads,
// and a chain that makes two series equal is evaluated as written.
func TestFoldedRulesEqual(t *testing.T) {
	st := promqltest.LoadedStorage(t, sharedFleet)
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	extra := []string{
		`label_replace(DCGM_FI_DEV_GPU_UTIL, "Hostname", "", "Hostname", ".*")`,
		`label_replace(label_replace(DCGM_FI_DEV_GPU_UTIL, "uuid", "$1", "UUID", "GPU-(\\d)"), "uuid", "x-$1", "uuid", "(2|3)")`,
		`label_replace(DCGM_FI_DEV_GPU_UTIL, "uuid", "$1", "UUID", "nothing-(.+)")`,
		`label_replace((label_replace((DCGM_FI_DEV_GPU_UTIL), "a", "$1", "gpu", "(.*)")), "b", "${1}x", "a", "(.+)")`,
		`group by (uuid) (label_replace(DCGM_FI_DEV_GPU_UTIL, "uuid", "$1", "UUID", "(.+)"))`,
		`max_over_time(label_replace(DCGM_FI_DEV_GPU_UTIL, "uuid", "$1", "UUID", "(.+)")[5m:1m])`,
		`label_replace(DCGM_FI_DEV_GPU_UTIL offset 2m, "uuid", "$1", "UUID", "(.+)") - label_replace(DCGM_FI_DEV_GPU_UTIL, "uuid", "$1", "UUID", "(.+)")`,
		`label_replace(h, "kind", "$1", "x", "(.+)")`,
		// The metric name as destination is left to the engine.
		`label_replace(DCGM_FI_DEV_GPU_UTIL, "__name__", "renamed", "UUID", "(.+)")`,
		// Two series made equal: both with samples (the engine fails), one
		// without (the engine merges them).
		`label_replace(grp{g="a"}, "x", "1", "x", ".*")`,
		`label_replace(grp{g="b"}, "x", "1", "x", ".*")`,
		`sum(label_replace(grp{g="a"}, "x", "1", "x", ".*"))`,
		// Not foldable: a selector with the marker's label, a regex that
		// does not compile, a destination the engine refuses.
		`label_replace(grp{__servescope_label_replace__="0"}, "x", "1", "x", ".*")`,
		`label_replace(grp, "x", "1", "x", "(")`,
		`label_replace(grp, "", "1", "x", ".*")`,
	}
	groups := cat.RuleGroups(30 * time.Second).Groups
	for i, q := range extra {
		groups = append(groups, rulefmt.RuleGroup{Name: fmt.Sprintf("extra-%d", i), Rules: []rulefmt.Rule{{Record: fmt.Sprintf("extra_%d", i), Expr: q}}})
	}
	m := evaluatedManager(t, st, eng, groups)
	var queries []string
	for _, g := range m.groups {
		for _, r := range g.Rules() {
			queries = append(queries, r.Query().String())
		}
	}
	catalogRules := len(queries) - len(extra)

	p := parser.NewParser(parser.Options{})
	sr := newSharedReads(st, 5*time.Minute)
	sr.setPlan(m.groups)
	f := newFolder(eng, sr, p)
	folded := sr.wrap(f.QueryFunc)
	plain := prules.EngineQueryFunc(eng, st)
	for _, ts := range []time.Time{time.Unix(0, 0).Add(9 * time.Minute), time.Unix(0, 0).Add(9*time.Minute + 15*time.Second)} {
		for i, q := range queries {
			want, wantErr := plain(t.Context(), q, ts)
			got, gotErr := folded(t.Context(), q, ts)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("%s at %v: error %v, want %v", q, ts, gotErr, wantErr)
				continue
			}
			if a, b := samplesText(got), samplesText(want); a != b {
				t.Errorf("%s at %v: folded\n%s\nwant\n%s", q, ts, a, b)
			}
			if i == catalogRules-1 && f.folded.Load() == 0 {
				t.Errorf("no rule of the catalog was folded")
			}
		}
	}
	if sr.hits.Load() == 0 {
		t.Error("folded reads were not shared")
	}
	// The three over grp{g="a"} and grp{g="b"} at two times; the failing
	// ones (invalid regex, empty destination) are not folded.
	if n := f.fallbacks.Load(); n != 6 {
		t.Errorf("%d folded queries evaluated again as written, want 6", n)
	}
	if _, err := plain(t.Context(), `label_replace(grp{g="b"}, "x", "1", "x", ".*")`, time.Unix(0, 0).Add(9*time.Minute)); err != nil {
		t.Errorf("the fleet no longer merges grp{g=\"b\"}: %v", err)
	}
}

// TestFoldChains: which calls fold, into which selector, with which steps.
func TestFoldChains(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, c := range []struct{ in, want string }{
		{`label_replace(label_replace(m{a="1"}, "uuid", "$1", "UUID", "(.+)"), "hostname", "$1", "Hostname", "(.+)")`,
			`m{__servescope_label_replace__="0",a="1"}`},
		{`max by (x) (label_replace(m, "x", "$1", "y", "(.+)")) or label_replace(n, "x", "$1", "y", "(.+)")`,
			`max by (x) (m{__servescope_label_replace__="0"}) or n{__servescope_label_replace__="1"}`},
		// Not over a selector: the call stays; inner chains fold.
		{`label_replace(rate(m[5m]), "x", "$1", "y", "(.+)")`, ``},
		{`label_replace(label_replace(sum(label_replace(m, "a", "b", "c", "d")), "x", "$1", "y", "(.+)"), "p", "q", "r", "s")`,
			`label_replace(label_replace(sum(m{__servescope_label_replace__="0"}), "x", "$1", "y", "(.+)"), "p", "q", "r", "s")`},
		// The metric name as destination: the outer call stays.
		{`label_replace(label_replace(m, "x", "$1", "y", "(.+)"), "__name__", "n", "y", "(.+)")`,
			`label_replace(m{__servescope_label_replace__="0"}, "__name__", "n", "y", "(.+)")`},
	} {
		f := newFolder(nil, nil, p)
		fq := f.lookup(c.in)
		if fq.text != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, fq.text, c.want)
		}
	}
	f := newFolder(nil, nil, p)
	fq := f.lookup(`label_replace(label_replace(m, "uuid", "$1", "UUID", "(.+)"), "hostname", "$1", "Hostname", "(.+)")`)
	if s := fq.steps["0"]; len(s) != 2 || s[0].dst != "uuid" || s[1].dst != "hostname" {
		t.Errorf("steps %+v, want uuid then hostname", s)
	}
}

// TestCopyStep: the catalog's form, label_replace(v, dst, "$1", src,
// "(.+)"), read without its regex, gives every value the labels the
// regex gives it: empty, plain, with a dollar sign, a line break, bytes
// that are not UTF-8.
func TestCopyStep(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(`label_replace(m, "uuid", "$1", "UUID", "(.+)")`)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := replaceStep(e.(*parser.Call))
	if !ok || !st.copy {
		t.Fatalf("step %+v: not read as a copy", st)
	}
	general := st
	general.copy = false
	var lb labels.Builder
	for _, v := range []string{"", "GPU-1", "$1", "a\nb", "\xff\xfe", "${1}x"} {
		in := labels.FromStrings("UUID", v, "gpu", "0")
		a := applySteps(&lb, in, []labelStep{st}).String()
		b := applySteps(&lb, in, []labelStep{general}).String()
		if a != b {
			t.Errorf("UUID %q: copied %s, by the regex %s", v, a, b)
		}
	}
}

// TestFoldQuerierSelect: a read asked sorted gets the chain's labels in
// sorted order; a marker outside a folded query (no context, or a value the
// query did not fold) goes to the store as written and selects nothing.
func TestFoldQuerierSelect(t *testing.T) {
	st := promqltest.LoadedStorage(t, sharedFleet)
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(`label_replace(DCGM_FI_DEV_GPU_UTIL, "order", "$1", "gpu", "(.+)")`)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := replaceStep(e.(*parser.Call))
	// Copy gpu into A, the first label of every series (uppercase sorts
	// first), then prefix 0 to 2 with z: the sorted order is no longer the
	// store's.
	step.dst, step.copy = "A", false
	fc := &foldCtx{steps: map[string][]labelStep{"0": {step, {dst: "A", src: "A", repl: "z$1", re: regexp.MustCompile(`^(?s:([0-2]))$`)}}}}
	q, err := foldQueryable{st}.Querier(0, 600_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	name := labels.MustNewMatcher(labels.MatchEqual, "__name__", "DCGM_FI_DEV_GPU_UTIL")
	marker := labels.MustNewMatcher(labels.MatchEqual, markerLabel, "0")
	read := func(ctx context.Context, sorted bool, ms ...*labels.Matcher) []string {
		ss := q.Select(ctx, sorted, nil, ms...)
		var out []string
		for ss.Next() {
			out = append(out, ss.At().Labels().Get("A")+"/"+ss.At().Labels().Get(markerLabel))
		}
		if err := ss.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ctx := context.WithValue(t.Context(), foldCtxKey{}, fc)
	// gpu 0, 2, 3, 4 give A = z0, z2, 3, 4: sorted, 3 and 4 before the
	// z's.
	if got := strings.Join(read(ctx, true, name, marker), " "); got != "3/ 4/ z0/ z2/" {
		t.Errorf("sorted read: %s", got)
	}
	if got := read(t.Context(), false, name, marker); len(got) != 0 {
		t.Errorf("a marker outside a folded query selected %v", got)
	}
	if got := read(ctx, false, name, labels.MustNewMatcher(labels.MatchEqual, markerLabel, "9")); len(got) != 0 {
		t.Errorf("a marker the query did not fold selected %v", got)
	}
	if fc.collided.Load() {
		t.Error("distinct labels reported as a collision")
	}
}

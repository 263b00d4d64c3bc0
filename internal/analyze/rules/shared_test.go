package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/schema"
)

// sharedFleet adds to pruneFleet native histograms (integer and float),
// out-of-range values on both sides, and a series that stops before the
// evaluation (no sample in the lookback).
const sharedFleet = pruneFleet + `  DCGM_FI_DEV_GPU_UTIL{UUID="GPU-1",gpu="0",Hostname="n1",modelName="H100",namespace="team-a",pod="p0",container="vllm"} 70+0x40
  DCGM_FI_DEV_GPU_UTIL{UUID="GPU-3",gpu="2",Hostname="n1",modelName="H100",namespace="team-a",pod="p2",container="vllm"} 170+0x40
  DCGM_FI_DEV_GPU_UTIL{UUID="GPU-4",gpu="3",Hostname="n1",modelName="H100",namespace="team-a",pod="p3",container="vllm"} -5+0x40
  DCGM_FI_DEV_GPU_UTIL{UUID="GPU-5",gpu="4",Hostname="n1",modelName="H100",namespace="team-a",pod="p4",container="vllm"} 50+0x5
  vllm:e2e_request_latency_seconds{namespace="team-a",pod="p0",instance="i0",model_name="m"} {{schema:-53 sum:1 count:2 custom_values:[0.5 1] buckets:[1 1]}}+{{schema:-53 sum:1 count:2 custom_values:[0.5 1] buckets:[1 1]}}x40
  h{x="int"} {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{schema:0 sum:5 count:4 buckets:[1 2 1]}}x40
  h{x="float"} {{schema:0 sum:5.5 count:4.5 buckets:[1.5 2 1]}}+{{schema:0 sum:5 count:4 buckets:[1 2 1]}}x40
  h{x="mixed"} 1 2 3 {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x37
  grp{g="a",x="1"} 1+0x40
  grp{g="a",x="2"} 2+0x40
  grp{g="b",x="1"} 1+0x10
  grp{g="b",x="2"} 1+0x34 stale
  grp{g="b",x="3"} _x20 1+0x20
  grp{g="c",x="1"} 1+0x34 stale
  grp{g="c",x="2"} 1+0x10
  grp{g="d",x="1"} {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x34 {{schema:0 sum:5 count:4 buckets:[1 2 1]}} stale
  grp{g="d",x="2"} _x30 {{schema:0 sum:5.5 count:4.5 buckets:[1.5 2 1]}}x10
  grp{g="e"} 1+0x36 stale
  grp{g="e",y="1"} 1+0x37
  grp_other{g="a",x="9"} 3+0x40
  grp_other{g="f",x="9"} NaN+0x40
`

// TestSharedReadsEqual: every rule of the catalog, and rules reading one
// selector several times (histograms, both sides of a range), give with
// shared reads the very series and values they give from the store, at
// two evaluation times; the reads are shared; and no copy is left once a
// group has been evaluated.
func TestSharedReadsEqual(t *testing.T) {
	st := promqltest.LoadedStorage(t, sharedFleet)
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	extra := rulefmt.RuleGroup{Name: "extra", Rules: []rulefmt.Rule{
		{Record: "a", Expr: `h`},
		{Record: "b", Expr: `histogram_count(rate(h[5m])) / histogram_sum(rate(h[5m]))`},
		{Record: "c", Expr: `histogram_quantile(0.9, rate(h[5m])) or histogram_fraction(0, 2, h)`},
		{Record: "d", Expr: `h{x="mixed"} + 1`},
		{Record: "e", Expr: `DCGM_FI_DEV_GPU_UTIL < 0 or DCGM_FI_DEV_GPU_UTIL > 100`},
		{Record: "f", Expr: `last_over_time(DCGM_FI_DEV_GPU_UTIL[10m]) or DCGM_FI_DEV_GPU_UTIL offset 1m`},
		{Record: "g", Expr: `count_over_time(DCGM_FI_DEV_GPU_UTIL[10m])`},
		// Instant selectors kept as their newest sample, next to reads of
		// the same series that need more: smoothed, under a subquery,
		// over a range, at an offset, with @.
		{Record: "i", Expr: `DCGM_FI_DEV_GPU_UTIL + DCGM_FI_DEV_GPU_UTIL smoothed`},
		{Record: "j", Expr: `max_over_time(DCGM_FI_DEV_GPU_UTIL[5m:30s]) - DCGM_FI_DEV_GPU_UTIL`},
		{Record: "k", Expr: `DCGM_FI_DEV_GPU_UTIL offset 2m - DCGM_FI_DEV_GPU_UTIL offset 2m`},
		{Record: "l", Expr: `h + h smoothed`},
		{Record: "m", Expr: `DCGM_FI_DEV_GPU_UTIL @ 300 - DCGM_FI_DEV_GPU_UTIL`},
		{Record: "n", Expr: `rate(DCGM_FI_DEV_GPU_UTIL[5m] smoothed) + DCGM_FI_DEV_GPU_UTIL`},
		// A copy whose newest sample is a histogram's staleness marker.
		{Record: "o", Expr: `grp{g="d"} + grp{g="d"}`},
	}}
	groups := append(cat.RuleGroups(30*time.Second).Groups, extra)
	// Instant selectors under group: one series per group read (see
	// selectGroup), each in its own rule group so no read is shared.
	for i, q := range []string{
		`group by (g) (grp)`,
		`group by (g) ({__name__=~"grp.*"})`,
		`group(grp)`,
		`group by (g, x) (grp)`,
		`group by (y) (grp)`,
		`group by (g) (grp offset 1m)`,
		`group by (g) (grp @ 400)`,
		`group without (x) (grp)`,
		`group by (g) ((grp))`,
		`group by (g) (-grp)`,
		`count by (g) (grp)`,
		`group by (g) (grp) + on (g) group by (g) (grp_other)`,
	} {
		groups = append(groups, rulefmt.RuleGroup{Name: fmt.Sprintf("group-%d", i), Rules: []rulefmt.Rule{{Record: fmt.Sprintf("group_%d", i), Expr: q}}})
	}
	m := evaluatedManager(t, st, eng, groups)
	if m.shared.hits.Load() == 0 {
		t.Error("the manager's evaluation shared no read")
	}
	sr := newSharedReads(st, 5*time.Minute)
	sr.setPlan(m.groups)
	shared := sr.wrap(prules.EngineQueryFunc(eng, sr))
	plain := prules.EngineQueryFunc(eng, st)
	nonEmpty := 0
	for _, ts := range []time.Time{time.Unix(0, 0).Add(9 * time.Minute), time.Unix(0, 0).Add(9*time.Minute + 15*time.Second)} {
		for _, g := range m.groups {
			for _, r := range g.Rules() {
				q := r.Query().String()
				want, err := plain(t.Context(), q, ts)
				if err != nil {
					t.Fatalf("%s: %v", r.Name(), err)
				}
				got, err := shared(t.Context(), q, ts)
				if err != nil {
					t.Fatalf("%s shared: %v", r.Name(), err)
				}
				if a, b := samplesText(got), samplesText(want); a != b {
					t.Errorf("%s at %v: shared\n%s\nwant\n%s", r.Name(), ts, a, b)
				}
				if len(want) > 0 {
					nonEmpty++
				}
			}
			for _, p := range sr.plans {
				if n := len(p.group.entries); n > 0 {
					t.Errorf("after group %s at %v: %d copies left", g.Name(), ts, n)
					for k := range p.group.entries {
						t.Log(k)
					}
					break
				}
			}
		}
	}
	if g := sr.grouped.Load(); g < 2*8 {
		t.Errorf("%d reads with a series per group, want at least 16 (8 rules at 2 times)", g)
	}
	if h := sr.hits.Load(); h < 100 || nonEmpty < 40 {
		t.Errorf("%d shared reads, %d rules with data: the fleet does not exercise sharing", h, nonEmpty)
	}
}

// evaluatedManager is a rule manager over st with groups loaded, evaluated
// once at 9 minutes: the signals are recorded, so the rules over recorded
// series (teams) have data too.
func evaluatedManager(t *testing.T, st *teststorage.TestStorage, eng *promql.Engine, groups []rulefmt.RuleGroup) *Manager {
	t.Helper()
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng, Interval: 30 * time.Second, Lookback: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "catalog", Groups: rulefmt.RuleGroups{Groups: groups}}); err != nil {
		t.Fatal(err)
	}
	m.EvalAt(t.Context(), time.Unix(0, 0).Add(9*time.Minute))
	return m
}

func samplesText(v promql.Vector) string {
	var out []string
	for _, s := range v {
		if s.H != nil {
			out = append(out, fmt.Sprintf("%s %s %d", s.Metric, s.H, s.T))
			continue
		}
		out = append(out, fmt.Sprintf("%s %v %d", s.Metric, s.F, s.T))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestSharedReadsPlan: a selector read again later in the group (or twice
// in one rule) is planned, one read once is not, and a query found in two
// places is left to the store.
func TestSharedReadsPlan(t *testing.T) {
	st := promqltest.LoadedStorage(t, "load 15s\n  m 1+0x10\n")
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	g := func(name string, exprs ...string) rulefmt.RuleGroup {
		rg := rulefmt.RuleGroup{Name: name}
		for i, e := range exprs {
			rg.Rules = append(rg.Rules, rulefmt.Rule{Record: fmt.Sprintf("r%d", i), Expr: e})
		}
		return rg
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "x", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{
		g("one", `m < 0 or m > 1`, `sum(m)`, `n`, `rate(m[5m])`, `dup`, `twice + m`, `m`, `twice + m`),
		g("two", `dup`, `o`),
	}}}); err != nil {
		t.Fatal(err)
	}
	sr := newSharedReads(st, 5*time.Minute)
	sr.setPlan(m.groups)
	later := func(q string) map[string]int {
		if p := sr.plans[q]; p != nil {
			return p.later
		}
		return nil
	}
	const mk = `__name__="m"|0|0`
	for _, c := range []struct {
		q    string
		want int
	}{
		{`m < 0 or m > 1`, 1 + 2}, // again in the rule, then sum(m) and m (twice + m is twice in the group: no plan)
		{`sum(m)`, 1},
		{`rate(m[5m])`, 0},
		{`n`, 0},
		{`m`, 0},
	} {
		if got := later(c.q)[mk]; got != c.want {
			t.Errorf("%s: %d later reads of m planned, want %d", c.q, got, c.want)
		}
	}
	if p := sr.plans[`twice + m`]; p != nil {
		t.Errorf("a query twice in a group is planned: %v", p.later)
	}
	if p := sr.plans[`dup`]; p != nil {
		t.Errorf("a query in two groups is planned: %v", p.later)
	}
}

// TestSharedReadsSeeWrites: a rule reading what an earlier rule of its
// group recorded at this evaluation reads it from the store, not from a
// copy made before the write.
func TestSharedReadsSeeWrites(t *testing.T) {
	st := promqltest.LoadedStorage(t, "load 15s\n  foo 1+0x4\n  bar 1+0x4\n")
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	m, err := New(Options{Appendable: st, Queryable: st, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(nil, Builtin{Name: "x", Groups: rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{
		{Record: "before", Expr: `sum(foo) + sum(bar)`},
		{Record: "foo", Expr: `vector(5)`},
		{Record: "after", Expr: `sum(bar) + sum(foo)`},
		{Alert: "A", Expr: `sum(ALERTS) > 0 or vector(1)`},
		{Record: "alerts", Expr: `count(ALERTS)`},
	}}}}}); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0, 0).Add(2 * time.Minute)
	m.EvalAt(t.Context(), ts)
	plain := prules.EngineQueryFunc(eng, st)
	for q, want := range map[string]string{
		`after`:  "{} 6", // foo as recorded by the rule before it, bar shared
		`before`: "{} 2",
		`alerts`: "{} 1",
	} {
		v, err := plain(t.Context(), q, ts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range v {
			got = append(got, fmt.Sprintf("%s %v", labels.NewBuilder(s.Metric).Del(model.MetricNameLabel).Labels(), s.F))
		}
		if strings.Join(got, ";") != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
	if m.shared.hits.Load() == 0 {
		t.Error("bar was read twice, not shared")
	}
}

// TestSharedReadsKeepNewest: a copy of an instant selector's read keeps,
// of the samples up to its evaluation time, only the newest (a smoothed
// one also those after it); a read over a range, under a subquery, or
// with the lookback unknown keeps every sample the store gave.
func TestSharedReadsKeepNewest(t *testing.T) {
	st := promqltest.LoadedStorage(t, `load 15s
  f{x="1"} 1+1x40
  f{x="2"} 5+0x25
  h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{schema:0 sum:1 count:1 buckets:[0 1]}}x40
  fh {{schema:0 sum:5.5 count:4.5 buckets:[1.5 2 1]}}+{{schema:0 sum:1 count:1 buckets:[0 1]}}x40
`)
	const lookback = 5 * time.Minute
	T := time.Unix(0, 0).Add(8 * time.Minute).UnixMilli()
	lb := lookback.Milliseconds()
	instant := &storage.SelectHints{Start: T - lb + 1, End: T}
	for _, c := range []struct {
		name     string
		lookback time.Duration
		hints    *storage.SelectHints
		want     func(ts int64) bool // which of the store's samples are kept
	}{
		{"instant", lookback, instant, func(ts int64) bool { return ts == T }},
		{"instant at an offset", lookback, &storage.SelectHints{Start: T - 100_000 - lb + 1, End: T - 100_000}, func(ts int64) bool { return ts == T-105_000 }},
		{"smoothed", lookback, &storage.SelectHints{Start: T - lb + 1, End: T + lb}, func(ts int64) bool { return ts >= T }},
		{"range", lookback, &storage.SelectHints{Start: T - lb + 1, End: T, Range: lb}, func(int64) bool { return true }},
		{"subquery", lookback, &storage.SelectHints{Start: T - 2*lb + 1, End: T, Step: 30_000}, func(int64) bool { return true }},
		{"lookback unknown", 0, instant, func(int64) bool { return true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := st.Querier(c.hints.Start, c.hints.End)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			sq := &sharedQuerier{Querier: q, lookback: c.lookback.Milliseconds()}
			m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "f|h|fh")
			full, _, err := readAll(q.Select(t.Context(), false, c.hints, m), math.MinInt64)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := readAll(q.Select(t.Context(), false, c.hints, m), sq.cut(c.hints))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(full) || len(full) != 4 {
				t.Fatalf("%d series kept of %d (want 4)", len(got), len(full))
			}
			for i, fs := range full {
				var want []string
				for j := range fs.ts {
					// f{x="2"} ends at 6m15s: its newest sample in the
					// window is its last.
					if c.want(fs.ts[j]) || (fs.lset.Get("x") == "2" && j == len(fs.ts)-1 && c.hints.Range == 0 && c.hints.Step == 0 && c.lookback > 0) {
						want = append(want, sampleText(fs, j))
					}
				}
				var have []string
				for j := range got[i].ts {
					have = append(have, sampleText(got[i], j))
				}
				if strings.Join(have, " ") != strings.Join(want, " ") {
					t.Errorf("%s: kept\n%s\nwant\n%s", fs.lset, strings.Join(have, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

func sampleText(s *memSeries, i int) string {
	switch {
	case s.hs != nil && s.hs[i] != nil:
		return fmt.Sprintf("%d:%s", s.ts[i], s.hs[i])
	case s.fhs != nil && s.fhs[i] != nil:
		return fmt.Sprintf("%d:%s", s.ts[i], s.fhs[i])
	}
	return fmt.Sprintf("%d:%v", s.ts[i], s.fs[i])
}

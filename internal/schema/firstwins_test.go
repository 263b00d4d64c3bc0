package schema

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/schema/schematest"
)

// firstWinsUnless is the form firstWins had before it used `or on(key)`:
// S1 or (S2 unless on(key) S1) or (S3 unless on(key) S1 unless on(key) S2).
func firstWinsUnless(key []string, parts []parser.Expr) parser.Expr {
	out := parts[0]
	for i := 1; i < len(parts); i++ {
		u := parts[i]
		for j := range i {
			u = binary(parser.LUNLESS, u, parts[j], on(parser.CardManyToMany, key))
		}
		out = binary(parser.LOR, out, u, &parser.VectorMatching{Card: parser.CardManyToMany})
	}
	return out
}

// TestFirstWinsOrOn: `S1 or on(key) S2 or on(key) S3` gives what the
// unless form gave, series for series, over sources that overlap per key in
// every way (one source, two, all three; several series per key; a key
// label absent), whichever sources are empty.
func TestFirstWinsOrOn(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  s1{k="a", x="1"} 1
  s1{k="a", x="2"} 2
  s1{k="b", x="1"} 3
  s1{x="9"}        4
  s2{k="a", x="1"} 10
  s2{k="c", x="1"} 11
  s2{k="c", x="3"} 12
  s2{k="d", x="1"} 13
  s2{x="8"}        14
  s3{k="b", x="5"} 20
  s3{k="c", x="1"} 21
  s3{k="d", x="2"} 22
  s3{k="e", x="1"} 23
  s3{k="e", x="2"} 24
  s3{x="7"}        25
`)
	eng := schematest.NewEngine()
	ts := time.Unix(60, 0)
	sel := func(name string) parser.Expr {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(`sum by (k, x) (` + name + `)`)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, combo := range [][]string{{"s1", "s2"}, {"s2", "s1"}, {"s1", "s2", "s3"}, {"s3", "s2", "s1"}, {"nothing", "s2", "s3"},
		{"s1", "nothing", "s3"}, {"s2", "s3", "nothing"}, {"nothing", "nothing", "s3"}, {"s1", "s2", "s3", "nothing"}, {"s3", "s1", "nothing", "s2"}} {
		parts := func() []parser.Expr {
			var p []parser.Expr
			for _, n := range combo {
				p = append(p, sel(n))
			}
			return p
		}
		for _, key := range [][]string{{"k"}, {"k", "x"}} {
			want := schematest.Instant(t, eng, st, firstWinsUnless(key, parts()).String(), ts)
			q := firstWins(key, parts()).String()
			got := schematest.Instant(t, eng, st, q, ts)
			str := func(v []string) []string { slices.Sort(v); return v }
			var a, b []string
			for _, s := range got {
				a = append(a, s.String())
			}
			for _, s := range want {
				b = append(b, s.String())
			}
			if !slices.Equal(str(a), str(b)) || len(b) == 0 {
				t.Errorf("%v on %v: %s\n got %v\nwant %v", combo, key, q, a, b)
			}
		}
	}
}

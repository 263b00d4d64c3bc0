package query

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// extent is a range query's result kept to answer a later range over
// the same points grid: a dashboard following the clock asks for the
// last hour again every refresh, each time one step later. Points up to
// final no longer change (every sample at or before them has arrived);
// a later request that starts within the extent is answered from it up
// to final and evaluates only the points after (Cache.QueryRange).
type extent struct {
	start, end time.Time
	// final is the last point that no longer changes.
	final time.Time
	res   Result // a matrix
}

// extentKey keys the extents of q at step starting on start's UTC day:
// the newest is kept per key. The day keeps apart the parts of a long
// range cut at midnights (QueryRangeSplit), which a page asks for
// together.
func extentKey(q string, step time.Duration, start time.Time) string {
	return "x\x00" + strconv.FormatInt(step.Milliseconds(), 10) + "\x00" + strconv.FormatInt(start.Truncate(DayChunk).Unix(), 10) + "\x00" + q
}

// incremental reports whether q's points may be evaluated apart and
// joined: every point of a range query is evaluated on its own, except
// where `@ start()` or `@ end()` reads the range's bounds.
func incremental(q string) bool {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return false
	}
	ok := true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			ok = ok && n.StartOrEnd == 0
		case *parser.SubqueryExpr:
			ok = ok && n.StartOrEnd == 0
		}
		return nil
	})
	return ok
}

// slice returns x's points in [start, end] as a new result sharing x's
// labels and samples (capped slices: appending to them copies); series
// with none left out. Neither x nor the result may be modified in place.
func (x *extent) slice(start, end time.Time) Result {
	m := x.res.Value.(model.Matrix)
	out := make(model.Matrix, 0, len(m))
	s, e := model.TimeFromUnixNano(start.UnixNano()), model.TimeFromUnixNano(end.UnixNano())
	for _, ss := range m {
		c := &model.SampleStream{Metric: ss.Metric,
			Values:     within(ss.Values, s, e, func(p model.SamplePair) model.Time { return p.Timestamp }),
			Histograms: within(ss.Histograms, s, e, func(p model.SampleHistogramPair) model.Time { return p.Timestamp })}
		if len(c.Values) > 0 || len(c.Histograms) > 0 {
			out = append(out, c)
		}
	}
	r := x.res
	r.Value = out
	r.Warnings, r.Infos = slices.Clip(x.res.Warnings), slices.Clip(x.res.Infos)
	return r
}

// within is the part of ps (in time order) in [s, e], capped.
func within[P any](ps []P, s, e model.Time, ts func(P) model.Time) []P {
	i, _ := slices.BinarySearchFunc(ps, s, func(p P, t model.Time) int { return cmp.Compare(ts(p), t) })
	j, found := slices.BinarySearchFunc(ps, e, func(p P, t model.Time) int { return cmp.Compare(ts(p), t) })
	if found {
		j++
	}
	if i >= j {
		return nil
	}
	return ps[i:j:j]
}

// points is the samples a matrix holds, what the cache's size counts.
func points(v model.Value) int {
	m, ok := v.(model.Matrix)
	if !ok {
		return 1
	}
	n := 0
	for _, s := range m {
		n += len(s.Values) + len(s.Histograms)
	}
	return n
}

package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
)

// DayChunk is the span one range query of a long window covers
// (QueryRangeSplit). A range query whose step exceeds its selectors'
// lookback seeks every series once per point, and Prometheus seeks a
// series by seeking it in every block the query's range overlaps (a heap
// over them, rebuilt at each seek): one query over a week of 18 h blocks
// does that in a dozen blocks at every point, one query per UTC day in two
// or three. Points are evaluated independently, so the answers are the
// same; a day at a one-minute step also stays within Prometheus's 11,000
// points per query.
const DayChunk = 24 * time.Hour

// RangeQuerier is the part of Querier QueryRangeSplit needs.
type RangeQuerier interface {
	QueryRange(ctx context.Context, q string, r Range) (Result, error)
}

// Split cuts r's evaluation times (Start, Start+Step, … up to End) into
// consecutive ranges whose points fall in the same chunk-long span,
// aligned as time.Truncate aligns (to UTC days for DayChunk). A chunk ≤ 0,
// a step ≤ 0 or an empty range gives r itself.
func (r Range) Split(chunk time.Duration) []Range {
	if chunk <= 0 || r.Step <= 0 || r.End.Before(r.Start) {
		return []Range{r}
	}
	n := int(r.End.Sub(r.Start)/r.Step) + 1
	at := func(k int) time.Time { return r.Start.Add(time.Duration(k) * r.Step) }
	var out []Range
	for k0 := 0; k0 < n; {
		next := at(k0).Truncate(chunk).Add(chunk)
		k1 := int((next.Sub(r.Start) + r.Step - 1) / r.Step) // first point at or after next
		k1 = min(max(k1, k0+1), n)
		out = append(out, Range{Start: at(k0), End: at(k1 - 1), Step: r.Step})
		k0 = k1
	}
	return out
}

// Chunks is how a range query over r is asked, one query per range: r
// itself when it spans less than one chunk (at most 11,000 points), else
// Range.Split's ranges. A short range crossing a chunk's edge (an hour
// ending at midnight UTC) overlaps the blocks of both days either way, and
// a second query would set up every series again for its few points.
func (r Range) Chunks(chunk time.Duration) []Range {
	if r.Step > 0 && !r.End.Before(r.Start) && r.End.Sub(r.Start) < chunk && r.End.Sub(r.Start)/r.Step <= maxResolution {
		return []Range{r}
	}
	return r.Split(chunk)
}

// QueryRangeSplit evaluates expr over r as one range query per chunk
// (Range.Chunks) and joins each series' points across them, in time order:
// the same matrix as one query over r, cheaper over many blocks (DayChunk).
// Warnings and infos are kept once each.
func QueryRangeSplit(ctx context.Context, q RangeQuerier, expr string, r Range, chunk time.Duration) (Result, error) {
	parts := r.Chunks(chunk)
	if len(parts) == 1 {
		return q.QueryRange(ctx, expr, r)
	}
	var j joiner
	for _, p := range parts {
		part, err := q.QueryRange(ctx, expr, p)
		if err != nil {
			return Result{}, err
		}
		if _, ok := part.Value.(model.Matrix); !ok {
			return Result{}, fmt.Errorf("range query %q: got %s, want a matrix", expr, part.Value.Type())
		}
		j.add(part)
	}
	return j.result(), nil
}

// joinRanges joins the matrices of consecutive ranges, in time order. A
// part's samples are appended to, so their slices must be capped (or
// owned).
func joinRanges(parts ...Result) Result {
	if len(parts) == 2 {
		if r, ok := joinSame(parts[0], parts[1]); ok {
			return r
		}
	}
	var j joiner
	for _, p := range parts {
		j.add(p)
	}
	return j.result()
}

// joinSame joins two ranges holding the same series in the same order,
// the common case of a kept range and its newest points, without
// fingerprints or sorting; ok is false otherwise.
func joinSame(a, b Result) (Result, bool) {
	ma, mb := a.Value.(model.Matrix), b.Value.(model.Matrix)
	if len(ma) != len(mb) {
		return Result{}, false
	}
	for i := range ma {
		if !ma[i].Metric.Equal(mb[i].Metric) {
			return Result{}, false
		}
	}
	out := make(model.Matrix, len(ma))
	for i := range ma {
		out[i] = &model.SampleStream{Metric: ma[i].Metric, Values: append(ma[i].Values, mb[i].Values...),
			Histograms: append(ma[i].Histograms, mb[i].Histograms...)}
	}
	r := a
	r.Value = out
	r.Warnings, r.Infos = addNotes(r.Warnings, b.Warnings), addNotes(r.Infos, b.Infos)
	return r, true
}

// addNotes appends the annotations of more not in have.
func addNotes(have, more []string) []string {
	for _, w := range more {
		if !slices.Contains(have, w) {
			have = append(have, w)
		}
	}
	return have
}

// joiner joins the matrices of consecutive ranges of one query: each
// series' points across them in time order, series sorted as Prometheus
// sorts them, warnings and infos kept once each.
type joiner struct {
	out  model.Matrix
	res  Result
	byFP map[model.Fingerprint][]int
}

// add appends a range's matrix (part.Value must be one).
func (j *joiner) add(part Result) {
	if j.byFP == nil {
		j.byFP = map[model.Fingerprint][]int{}
	}
	j.res.Warnings, j.res.Infos = addNotes(j.res.Warnings, part.Warnings), addNotes(j.res.Infos, part.Infos)
	for _, ss := range part.Value.(model.Matrix) {
		fp := ss.Metric.Fingerprint()
		i := slices.IndexFunc(j.byFP[fp], func(i int) bool { return j.out[i].Metric.Equal(ss.Metric) })
		if i < 0 {
			j.byFP[fp] = append(j.byFP[fp], len(j.out))
			j.out = append(j.out, &model.SampleStream{Metric: ss.Metric})
			i = len(j.byFP[fp]) - 1
		}
		s := j.out[j.byFP[fp][i]]
		s.Values = append(s.Values, ss.Values...)
		s.Histograms = append(s.Histograms, ss.Histograms...)
	}
}

func (j *joiner) result() Result {
	slices.SortFunc(j.out, func(a, b *model.SampleStream) int { return compareMetric(a.Metric, b.Metric) })
	res := j.res
	res.Value = j.out
	return res
}

// compareMetric orders metrics as Prometheus orders a range query's
// series: by their label sets.
func compareMetric(a, b model.Metric) int {
	if a.Before(b) {
		return -1
	}
	if b.Before(a) {
		return 1
	}
	return 0
}

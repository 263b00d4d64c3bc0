package web

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// env is one page request: the state, the time range, and what the panels
// share (the GPU → pod join), computed once.
type env struct {
	h          *Handler
	st         state
	start, end time.Time
	step       time.Duration
	gpuOnce    sync.Once
	gpuPods    map[string]string // gpu key → namespace/pod
	gpuErr     error
	selOnce    sync.Once
	selPods    map[string]bool // pods of the selected model (and pod)
	// diagOnce sets diagAt, when the diagnosis panels read (diagnosis).
	diagOnce sync.Once
	diagAt   time.Time
	// progress, when set, is told after each panel is built how many of
	// how many are done (the report's progress bar).
	progress func(done, total int)
}

// signalQuery is the catalog's query for a signal (or a quantile of a
// histogram signal when q > 0).
func (e *env) signalQuery(name string, q float64) (string, error) {
	cat := e.h.opts.Catalog
	if q > 0 {
		if e.h.opts.Recorded {
			return schema.QuantileName(name, q), nil
		}
		return cat.Quantile(name, q)
	}
	return cat.Select(name, e.h.opts.Recorded)
}

// rangeOf and instantOf query for the panels, which only read what they
// get (query.ReadOnly): a result cache answers with its kept result, not
// a copy.
func (e *env) rangeOf(ctx context.Context, q string) (model.Matrix, error) {
	// One query per UTC day: a 7d chart over raw series seeks a week of
	// blocks at every point otherwise (query.DayChunk).
	res, err := query.QueryRangeSplit(query.ReadOnly(ctx), e.h.opts.Querier, q, query.Range{Start: e.start, End: e.end, Step: e.step}, query.DayChunk)
	if err != nil {
		return nil, err
	}
	m, ok := res.Value.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("range query returned %s, not a matrix", res.Value.Type())
	}
	return m, nil
}

func (e *env) instantOf(ctx context.Context, q string) (model.Vector, error) {
	res, err := e.h.opts.Querier.Query(query.ReadOnly(ctx), q, e.end)
	if err != nil {
		return nil, err
	}
	v, ok := res.Value.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("instant query returned %s, not a vector", res.Value.Type())
	}
	return v, nil
}

// signalRange runs a signal's range query and keeps the selected series.
func (e *env) signalRange(ctx context.Context, name string, q float64) (model.Matrix, string, error) {
	pq, err := e.signalQuery(name, q)
	if err != nil {
		return nil, "", err
	}
	m, err := e.rangeOf(ctx, pq)
	if err != nil {
		return nil, pq, fmt.Errorf("signal %s: %w", name, err)
	}
	return e.keep(ctx, m), pq, nil
}

// signalMean runs the signal averaged over the page's range, at its end.
func (e *env) signalMean(ctx context.Context, name string) (model.Vector, string, error) {
	pq, err := e.signalQuery(name, 0)
	if err != nil {
		return nil, "", err
	}
	if pq, err = e.h.opts.Catalog.AvgOverTime(pq, e.end.Sub(e.start), e.step); err != nil {
		return nil, "", err
	}
	v, err := e.instantOf(ctx, pq)
	if err != nil {
		return nil, pq, fmt.Errorf("signal %s: %w", name, err)
	}
	var out model.Vector
	for _, s := range v {
		if e.selected(ctx, s.Metric) {
			out = append(out, s)
		}
	}
	return out, pq, nil
}

// keep drops series outside the model and pod selection.
func (e *env) keep(ctx context.Context, m model.Matrix) model.Matrix {
	if e.st.Model == "" && e.st.Pod == "" {
		return m
	}
	var out model.Matrix
	for _, s := range m {
		if e.selected(ctx, s.Metric) {
			out = append(out, s)
		}
	}
	return out
}

// selected says whether a series belongs to the selection: engine series
// by their model_name and pod, GPU series through the pod holding the GPU,
// others (queues, teams) always.
func (e *env) selected(ctx context.Context, m model.Metric) bool {
	if e.st.Model == "" && e.st.Pod == "" {
		return true
	}
	pod := string(m["pod"])
	if _, ok := m["uuid"]; ok {
		pod = e.gpuPod(ctx, m)
		if pod == "" {
			return false
		}
		pod = pod[strings.IndexByte(pod, '/')+1:]
	} else if pod == "" {
		return true
	}
	if e.st.Pod != "" && pod != e.st.Pod {
		return false
	}
	if e.st.Model != "" {
		if mn, ok := m["model_name"]; ok {
			return string(mn) == e.st.Model
		}
		return e.modelPods(ctx)[pod]
	}
	return true
}

func gpuKey(m model.Metric) string {
	return string(m["hostname"]) + "\x00" + string(m["uuid"]) + "\x00" + string(m["GPU_I_ID"])
}

// gpuPod returns "namespace/pod" holding the GPU at the range's end.
func (e *env) gpuPod(ctx context.Context, m model.Metric) string {
	e.gpuOnce.Do(func() {
		e.gpuPods = map[string]string{}
		q, err := e.signalQuery("gpu_pod", 0)
		if err != nil {
			e.gpuErr = err
			return
		}
		v, err := e.instantOf(ctx, q)
		if err != nil {
			e.gpuErr = err
			return
		}
		for _, s := range v {
			if p := s.Metric["pod"]; p != "" {
				e.gpuPods[gpuKey(s.Metric)] = string(s.Metric["namespace"]) + "/" + string(p)
			}
		}
	})
	return e.gpuPods[gpuKey(m)]
}

// modelPods are the pods serving the selected model.
func (e *env) modelPods(ctx context.Context) map[string]bool {
	e.selOnce.Do(func() {
		e.selPods = map[string]bool{}
		q, err := e.signalQuery("requests_running", 0)
		if err != nil {
			return
		}
		m, err := e.rangeOf(ctx, q)
		if err != nil {
			return
		}
		for _, s := range m {
			if string(s.Metric["model_name"]) == e.st.Model {
				e.selPods[string(s.Metric["pod"])] = true
			}
		}
	})
	return e.selPods
}

// selection lists the models and pods the pickers offer.
func (e *env) selection(ctx context.Context) (models, pods []string) {
	q, err := e.signalQuery("requests_running", 0)
	if err != nil {
		return nil, nil
	}
	m, err := e.rangeOf(ctx, q)
	if err != nil {
		e.h.logger.Debug("list models", "err", err)
		return nil, nil
	}
	// Sets, not slices searched per series: a fleet has thousands of pods.
	ms, ps := map[string]bool{}, map[string]bool{}
	for _, s := range m {
		if mn := string(s.Metric["model_name"]); mn != "" {
			ms[mn] = true
		}
		if e.st.Model != "" && string(s.Metric["model_name"]) != e.st.Model {
			continue
		}
		if p := string(s.Metric["pod"]); p != "" {
			ps[p] = true
		}
	}
	return slices.Sorted(maps.Keys(ms)), slices.Sorted(maps.Keys(ps))
}

// name is a series' legend: the labels that identify its subject.
func name(m model.Metric) string {
	var parts []string
	for _, k := range []model.LabelName{"pod", "model_name", "hostname", "gpu", "GPU_I_ID", "cluster_queue", "team", "reason"} {
		if v := m[k]; v != "" {
			parts = append(parts, string(v))
		}
	}
	if len(parts) == 0 {
		if v := m["namespace"]; v != "" {
			return string(v)
		}
		return m.String()
	}
	return strings.Join(parts, " ")
}

// toSeries is m's series ordered by their mean, largest first (ties by
// name). Only the first maxSeries carry their points: a chart draws no
// more (layoutLines counts the others), and at 10,000 GPUs a per-pod
// panel would otherwise copy every pod's points at every page load.
func toSeries(m model.Matrix, axis int) []series {
	type ranked struct {
		s    *model.SampleStream
		name string
		mean float64
	}
	rs := make([]ranked, len(m))
	for i, s := range m {
		sum, n := 0.0, 0
		for _, v := range s.Values {
			if finite(float64(v.Value)) {
				sum += float64(v.Value)
				n++
			}
		}
		mean := math.Inf(-1)
		if n > 0 {
			mean = sum / float64(n)
		}
		rs[i] = ranked{s: s, name: name(s.Metric), mean: mean}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.mean > b.mean:
			return -1
		case a.mean < b.mean:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]series, len(rs))
	for i, r := range rs {
		out[i] = series{Name: r.name, Axis: axis}
		if i >= maxSeries {
			continue
		}
		ps := make([]point, len(r.s.Values))
		for j, v := range r.s.Values {
			ps[j] = point{T: v.Timestamp.Time(), V: float64(v.Value)}
		}
		out[i].Points = ps
	}
	return out
}

// aggregate combines a matrix into one series per timestamp: the sum, or
// the mean when mean is set.
func aggregate(m model.Matrix, label string, mean bool, axis int) []series {
	if len(m) == 0 {
		return nil
	}
	sum := map[model.Time]float64{}
	n := map[model.Time]int{}
	for _, s := range m {
		for _, v := range s.Values {
			if finite(float64(v.Value)) {
				sum[v.Timestamp] += float64(v.Value)
				n[v.Timestamp]++
			}
		}
	}
	ts := make([]model.Time, 0, len(sum))
	for t := range sum {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	s := series{Name: label, Axis: axis}
	for _, t := range ts {
		v := sum[t]
		if mean {
			v /= float64(n[t])
		}
		s.Points = append(s.Points, point{T: t.Time(), V: v})
	}
	return []series{s}
}

// ratio divides num by den per subject (the labels both share) and time.
func ratio(num, den model.Matrix) model.Matrix {
	byKey := map[model.Fingerprint]*model.SampleStream{}
	for _, s := range den {
		byKey[withoutName(s.Metric).Fingerprint()] = s
	}
	var out model.Matrix
	for _, s := range num {
		d, ok := byKey[withoutName(s.Metric).Fingerprint()]
		if !ok {
			continue
		}
		at := map[model.Time]model.SampleValue{}
		for _, v := range d.Values {
			at[v.Timestamp] = v.Value
		}
		r := &model.SampleStream{Metric: s.Metric}
		for _, v := range s.Values {
			if dv, ok := at[v.Timestamp]; ok && dv > 0 {
				r.Values = append(r.Values, model.SamplePair{Timestamp: v.Timestamp, Value: v.Value / dv})
			}
		}
		if len(r.Values) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// withoutName is a series' labels without its metric name: recorded
// series of two signals over one subject differ only by name.
func withoutName(m model.Metric) model.Metric {
	if _, ok := m[model.MetricNameLabel]; !ok {
		return m
	}
	out := make(model.Metric, len(m))
	for k, v := range m {
		if k != model.MetricNameLabel {
			out[k] = v
		}
	}
	return out
}

// diagnosis is the time and window at which the panels fed by the
// diagnosis (findings, fleet, costs, queues) read it: the page's end, or
// for a page following the clock the kept evaluation Options.Live gives,
// which v's help then names.
func (e *env) diagnosis(ctx context.Context, v *panelView) (time.Time, time.Duration) {
	window := e.end.Sub(e.start)
	e.diagOnce.Do(func() {
		e.diagAt = e.end
		if e.st.End.IsZero() && e.h.opts.Live != nil {
			e.diagAt = e.h.opts.Live.AsOf(ctx, e.end, window)
		}
	})
	if !e.diagAt.Equal(e.end) {
		v.asOf = e.diagAt
	}
	return e.diagAt, window
}

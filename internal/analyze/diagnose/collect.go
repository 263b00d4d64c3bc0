package diagnose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/schema"
)

// Querier is the part of query.Querier the diagnosis reads through.
type Querier interface {
	QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error)
}

// Options configure a Diagnoser.
type Options struct {
	// Querier is the backend: the embedded engine or a remote Prometheus.
	Querier Querier
	// Catalog supplies every signal's query.
	Catalog *schema.Catalog
	// Recorded selects servescope's recorded series (the backend evaluates
	// the catalog's rules) instead of the full queries over raw series.
	Recorded bool
	// Thresholds; the zero value means DefaultThresholds.
	Thresholds Thresholds
	// Fleet, if set, puts the fleet model (GPU counts, GPU-hours, money)
	// on the utilisation report; the Querier must then also answer
	// instant queries (fleet.Querier).
	Fleet *fleet.Calculator
	// ClusterLabel is the external label naming each series' cluster
	// (default "cluster"): pods and GPUs of the same name in two clusters
	// are two subjects. To diagnose one cluster, pass a Querier scoped to
	// it (cluster.Scope).
	ClusterLabel string
	// Objectives are the latency objectives: Diagnose adds their budgets
	// and a finding per model whose budget burns fast (the Querier must
	// then also answer instant queries).
	Objectives slo.Set
	// TenantTeams maps an inference gateway's fairness_id (its tenant) to
	// the team that pays for it (servescope.yml's tenant_teams); a tenant
	// it does not list maps to no team.
	TenantTeams map[string]string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Diagnoser collects snapshots through a Querier and runs the detectors.
// It is safe for concurrent use.
type Diagnoser struct {
	q       Querier
	cat     *schema.Catalog
	rec     bool
	th      Thresholds
	fleet   *fleet.Calculator
	slo     slo.Set
	logger  *slog.Logger
	cluster model.LabelName
	queries map[string]string
	tenants map[string]string
	// engineQueries are requests_running per source, in catalog order.
	engineQueries []schema.SourceQuery
	// health reads the GPU health signals (detect_health.go).
	health *health.Reader
	// background reads one query at a time (Background).
	background bool
}

// Signal names of the snapshot's tracks, as evidence names them.
const (
	sigRunning   = "requests_running"
	sigWaiting   = "requests_waiting"
	sigKV        = "kv_cache_usage_ratio"
	sigPreempt   = "preemptions_per_second"
	sigSpec      = "spec_decode_acceptance_ratio"
	sigPrompt    = "prompt_tokens_per_second"
	sigGen       = "generation_tokens_per_second"
	sigIterTok   = "iteration_tokens_per_step"
	sigTTFTp95   = "ttft_seconds:p95"
	sigBusy      = "gpu_busy_ratio"
	sigDRAM      = "gpu_memory_bandwidth_ratio"
	sigTensor    = "gpu_tensor_active_ratio"
	sigXID       = "gpu_last_xid"
	sigGPUPod    = "gpu_pod"
	sigProfiling = "gpu_busy_ratio:profiling"
	sigDown      = "up:down"
)

// downQuery selects scrape targets that failed: up is 0 (a missing layer).
const downQuery = `up == 0`

// New checks the options and prepares every query.
func New(o Options) (*Diagnoser, error) {
	if o.Querier == nil || o.Catalog == nil {
		return nil, errors.New("diagnose: Querier and Catalog are required")
	}
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds()
	}
	if err := o.Thresholds.Validate(0); err != nil {
		return nil, fmt.Errorf("diagnose: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ClusterLabel == "" {
		o.ClusterLabel = cluster.DefaultLabel
	}
	d := &Diagnoser{q: o.Querier, cat: o.Catalog, rec: o.Recorded, th: o.Thresholds, fleet: o.Fleet, slo: o.Objectives, cluster: model.LabelName(o.ClusterLabel),
		logger: o.Logger.With("component", "diagnose"), queries: map[string]string{}, tenants: o.TenantTeams}
	for _, name := range []string{sigRunning, sigWaiting, sigKV, sigPreempt, sigSpec, sigPrompt, sigGen, sigIterTok,
		sigBusy, sigDRAM, sigTensor, sigXID, sigGPUPod, sigRole, sigAsleep, sigKVLatency, sigKVFailures, sigKVExpired,
		sigKVQueue, sigWaitReason} {
		q, err := o.Catalog.Select(name, o.Recorded)
		if err != nil {
			return nil, fmt.Errorf("diagnose: signal %s: %w", name, err)
		}
		d.queries[name] = q
	}
	var err error
	if o.Recorded {
		d.queries[sigTTFTp95] = schema.QuantileName("ttft_seconds", 0.95)
	} else if d.queries[sigTTFTp95], err = o.Catalog.Quantile("ttft_seconds", 0.95); err != nil {
		return nil, fmt.Errorf("diagnose: ttft p95: %w", err)
	}
	// The profiling source alone says which GPUs report DCGM_FI_PROF_*;
	// the others fall back to DEV_GPU_UTIL.
	src, err := o.Catalog.Explain(sigBusy)
	if err != nil {
		return nil, fmt.Errorf("diagnose: sources of %s: %w", sigBusy, err)
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("diagnose: signal %s has no sources", sigBusy)
	}
	d.queries[sigProfiling] = src[0].Query
	// Each source of requests_running alone says which engine a pod runs:
	// the exporter whose metric names matched, from the data.
	if d.engineQueries, err = o.Catalog.Explain(sigRunning); err != nil {
		return nil, fmt.Errorf("diagnose: sources of %s: %w", sigRunning, err)
	}
	if d.health, err = health.NewReader(o.Catalog, o.Recorded, o.ClusterLabel); err != nil {
		return nil, fmt.Errorf("diagnose: %w", err)
	}
	if err := d.prepareQueues(o.Catalog, o.Recorded); err != nil {
		return nil, err
	}
	if d.queries[sigGatewayQueued], err = o.Catalog.Select(sigGatewayQueued, o.Recorded); err != nil {
		return nil, fmt.Errorf("diagnose: signal %s: %w", sigGatewayQueued, err)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(downQuery)
	if err != nil {
		return nil, fmt.Errorf("diagnose: parse %q: %w", downQuery, err)
	}
	d.queries[sigDown] = e.String()
	return d, nil
}

// Thresholds returns the thresholds in use.
func (d *Diagnoser) Thresholds() Thresholds { return d.th }

// Snapshot reads every signal over (end-window, end] at the step the
// window calls for (Thresholds.StepFor): the thresholds' step up to
// MaxSteps steps, a coarser one beyond. A coarse step samples the signals
// at its points, as any range query does (rates keep their own [5m]
// windows); averaging each step with a subquery at the thresholds' step
// would cost a week of 15 s evaluations per series. A window shorter than
// one step is refused.
func (d *Diagnoser) Snapshot(ctx context.Context, end time.Time, window time.Duration) (*Snapshot, error) {
	w, err := d.window(end, window)
	if err != nil {
		return nil, err
	}
	if d.background {
		return d.snapshot(ctx, w)
	}
	// Every query is evaluated ahead, a few at a time, and read in order.
	pf := newPrefetcher(ctx, d.q, d.snapshotReads(), w.Range(), snapshotParallel)
	defer pf.stop()
	c := *d
	c.q = pf
	return c.snapshot(ctx, w)
}

// window is the snapshot's window ending at end (Snapshot says how).
func (d *Diagnoser) window(end time.Time, window time.Duration) (Window, error) {
	if window < d.th.Step {
		return Window{}, fmt.Errorf("snapshot: window %s is shorter than one step (%s): give a window of at least %s", window, d.th.Step, d.th.Step)
	}
	step := d.th.StepFor(window)
	end = end.Truncate(step)
	return Window{Start: end.Add(-window), End: end, Step: step}, nil
}

// snapshot reads the snapshot over w through d.q.
func (d *Diagnoser) snapshot(ctx context.Context, w Window) (*Snapshot, error) {
	n := w.Steps()
	rng := w.Range()
	s := &Snapshot{Window: w, Queries: map[string]string{}}
	get := func(name string) (model.Matrix, error) {
		q := d.queries[name]
		s.Queries[name] = q
		return d.rangeQuery(ctx, q, rng, name)
	}
	pods := map[string]*Pod{}
	var podOrder []string
	pod := func(m model.Metric) *Pod {
		k := string(m[d.cluster]) + "\xff" + string(m["namespace"]) + "\xff" + string(m["pod"]) + "\xff" + string(m["instance"])
		p := pods[k]
		if p == nil {
			p = &Pod{Cluster: string(m[d.cluster]), Namespace: string(m["namespace"]), Pod: string(m["pod"]), Instance: string(m["instance"]), Model: string(m["model_name"])}
			pods[k] = p
			podOrder = append(podOrder, k)
		}
		return p
	}
	podSignals := []struct {
		name string
		sum  bool // series of one pod (e.g. per model or LoRA adapter) add up; else the max wins
		dst  func(*Pod) *Track
	}{
		{sigRunning, true, func(p *Pod) *Track { return &p.Running }},
		{sigWaiting, true, func(p *Pod) *Track { return &p.Waiting }},
		{sigKV, false, func(p *Pod) *Track { return &p.KVUsage }},
		{sigPreempt, true, func(p *Pod) *Track { return &p.Preemptions }},
		{sigSpec, false, func(p *Pod) *Track { return &p.SpecAcceptance }},
		{sigPrompt, true, func(p *Pod) *Track { return &p.PromptTPS }},
		{sigGen, true, func(p *Pod) *Track { return &p.GenerationTPS }},
		{sigTTFTp95, false, func(p *Pod) *Track { return &p.TTFTp95 }},
		{sigIterTok, false, func(p *Pod) *Track { return &p.IterationTokens }},
	}
	for _, src := range d.engineQueries {
		m, err := d.rangeQuery(ctx, src.Query, rng, "engine "+src.Source.Exporter)
		if err != nil {
			return nil, err
		}
		for _, ss := range m {
			if p := pod(ss.Metric); ss.Metric["pod"] != "" && p.Engine == "" {
				p.Engine = src.Source.Exporter
			}
		}
	}
	for _, ps := range podSignals {
		m, err := get(ps.name)
		if err != nil {
			return nil, err
		}
		for _, ss := range m {
			if ss.Metric["pod"] == "" {
				continue
			}
			t := ps.dst(pod(ss.Metric))
			if *t == nil {
				*t = newTrack(n)
			}
			fill(*t, w, ss.Values, ps.sum)
		}
	}
	roles, err := d.snapshotPD(get, pod, w, n)
	if err != nil {
		return nil, err
	}
	gpus := map[string]*GPU{}
	var gpuOrder []string
	gpu := func(m model.Metric) *GPU {
		g := &GPU{Cluster: string(m[d.cluster]), Hostname: string(m["hostname"]), UUID: string(m["uuid"]), MIG: string(m["GPU_I_ID"])}
		if old := gpus[g.key()]; old != nil {
			return old
		}
		g.ModelName, g.MIGProfile = string(m["modelName"]), string(m["GPU_I_PROFILE"])
		gpus[g.key()] = g
		gpuOrder = append(gpuOrder, g.key())
		return g
	}
	gpuSignals := []struct {
		name string
		dst  func(*GPU) *Track
	}{
		{sigBusy, func(g *GPU) *Track { return &g.Busy }},
		{sigDRAM, func(g *GPU) *Track { return &g.DRAM }},
		{sigTensor, func(g *GPU) *Track { return &g.Tensor }},
		{sigXID, func(g *GPU) *Track { return &g.XID }},
	}
	for _, gs := range gpuSignals {
		m, err := get(gs.name)
		if err != nil {
			return nil, err
		}
		for _, ss := range m {
			g := gpu(ss.Metric)
			if g.ModelName == "" {
				g.ModelName = string(ss.Metric["modelName"])
			}
			if g.MIGProfile == "" {
				g.MIGProfile = string(ss.Metric["GPU_I_PROFILE"])
			}
			t := gs.dst(g)
			if *t == nil {
				*t = newTrack(n)
			}
			fill(*t, w, ss.Values, false)
		}
	}
	if err := d.snapshotHealth(ctx, s, rng, gpu); err != nil {
		return nil, err
	}
	prof, err := get(sigProfiling)
	if err != nil {
		return nil, err
	}
	for _, ss := range prof {
		gpu(ss.Metric).Profiling = true
	}
	// The latest holder of each GPU wins.
	holders, err := get(sigGPUPod)
	if err != nil {
		return nil, err
	}
	last := map[string]model.Time{}
	for _, ss := range holders {
		if len(ss.Values) == 0 {
			continue
		}
		g := gpu(ss.Metric)
		if t := ss.Values[len(ss.Values)-1].Timestamp; t >= last[g.key()] {
			last[g.key()] = t
			g.Namespace, g.Pod = string(ss.Metric["namespace"]), string(ss.Metric["pod"])
		}
	}
	down, err := get(sigDown)
	if err != nil {
		return nil, err
	}
	for _, ss := range down {
		t := Target{Cluster: string(ss.Metric[d.cluster]), Job: string(ss.Metric["job"]), Instance: string(ss.Metric["instance"]), Down: newTrack(n)}
		fill(t.Down, w, ss.Values, false)
		s.Targets = append(s.Targets, t)
	}

	if err := d.snapshotQueues(ctx, s, rng); err != nil {
		return nil, err
	}
	slices.Sort(gpuOrder)
	byPod := map[string][]int{}
	for _, k := range gpuOrder {
		g := gpus[k]
		s.GPUs = append(s.GPUs, *g)
		if g.Pod != "" {
			pk := g.Cluster + "\xff" + g.Namespace + "\xff" + g.Pod
			byPod[pk] = append(byPod[pk], len(s.GPUs)-1)
		}
	}
	slices.Sort(podOrder)
	for _, k := range podOrder {
		p := pods[k]
		if p.Model == "" {
			p.Model, p.ModelFrom = Deployment(p.Pod), "deployment"
		}
		p.GPUs = byPod[p.Cluster+"\xff"+p.Namespace+"\xff"+p.Pod]
		p.Role = roles[p.Cluster+"\xff"+p.Namespace+"\xff"+p.Pod]
		s.Pods = append(s.Pods, *p)
	}
	gw, err := get(sigGatewayQueued)
	if err != nil {
		return nil, err
	}
	d.gateways(s, gw)
	d.logger.Debug("snapshot", "end", w.End, "window", w.End.Sub(w.Start), "pods", len(s.Pods), "gpus", len(s.GPUs))
	return s, nil
}

// rangeQuery runs one range query of the snapshot, one per UTC day of a
// long window (query.DayChunk); name says which in errors.
func (d *Diagnoser) rangeQuery(ctx context.Context, q string, rng query.Range, name string) (model.Matrix, error) {
	res, err := query.QueryRangeSplit(ctx, d.q, q, rng, query.DayChunk)
	if err != nil {
		return nil, fmt.Errorf("snapshot: query %s: %w", name, err)
	}
	m, ok := res.Value.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("snapshot: query %s: got %s, want a matrix", name, res.Value.Type())
	}
	return m, nil
}

// fill writes a range query's points into the track's steps; sum adds to
// a value already there, otherwise the larger value wins.
func fill(t Track, w Window, ps []model.SamplePair, sum bool) {
	// t - start in nanoseconds, as Time().Sub(w.Start) gives it, without
	// a time.Time per point.
	start := w.Start.UnixNano()
	for _, p := range ps {
		i := int((int64(p.Timestamp)*int64(time.Millisecond) - start) / int64(w.Step))
		if i < 0 || i >= len(t) || math.IsNaN(float64(p.Value)) {
			continue
		}
		v := float64(p.Value)
		switch {
		case math.IsNaN(t[i]):
			t[i] = v
		case sum:
			t[i] += v
		default:
			t[i] = max(t[i], v)
		}
	}
}

// Diagnose reads a snapshot over (at-window, at] and runs the detectors.
func (d *Diagnoser) Diagnose(ctx context.Context, at time.Time, window time.Duration) (*Report, error) {
	// The fleet model reads its own queries over the snapshot's window:
	// it is computed beside the snapshot, not after it.
	fleetModel := d.startFleet(ctx, at, window)
	s, err := d.Snapshot(ctx, at, window)
	if err != nil {
		fleetModel.cancel()
		return nil, err
	}
	r := Analyze(s, d.th)
	r.Gateways = gatewayStatuses(s, d.tenants)
	if err := fleetModel.into(ctx, d, s, r); err != nil {
		return nil, err
	}
	if err := d.objectives(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// ForCluster returns the diagnosis of one cluster: the same Diagnoser
// reading through a Querier scoped to the cluster's series; "" returns d.
// It needs a whole query.Querier.
func (d *Diagnoser) ForCluster(name string) (*Diagnoser, error) {
	if name == "" {
		return d, nil
	}
	full, ok := d.q.(query.Querier)
	if !ok {
		return nil, errors.New("diagnose: selecting a cluster needs a querier that answers every query")
	}
	c := *d
	c.q = cluster.Scope(full, string(d.cluster), name)
	return &c, nil
}

// DiagnoseCluster diagnoses one cluster (ForCluster), every one with "".
func (d *Diagnoser) DiagnoseCluster(ctx context.Context, name string, at time.Time, window time.Duration) (*Report, error) {
	dc, err := d.ForCluster(name)
	if err != nil {
		return nil, err
	}
	return dc.Diagnose(ctx, at, window)
}

// Fleet computes the fleet model over the snapshot's window and puts it on
// the report's utilisation; without a fleet calculator it does nothing.
func (d *Diagnoser) Fleet(ctx context.Context, s *Snapshot, r *Report) error {
	if d.fleet == nil {
		return nil
	}
	fq, ok := d.q.(fleet.Querier)
	if !ok {
		return errors.New("diagnose: the fleet model needs a querier that answers instant queries")
	}
	// The cost package's default step, as `cost` and the API use, so the
	// same window gives the same figures on every surface.
	m, err := d.fleet.Compute(ctx, fq, s.Window.Start, s.Window.End, 0)
	return d.withFleet(r, m, err)
}

// withFleet puts the fleet model m (computed with err) on r.
func (d *Diagnoser) withFleet(r *Report, m *fleet.Model, err error) error {
	if err != nil {
		return fmt.Errorf("diagnose: %w", err)
	}
	r.Utilisation = r.Utilisation.WithFleet(m)
	return nil
}

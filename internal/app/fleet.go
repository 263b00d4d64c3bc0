package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
)

// fleetView runs the diagnosis with its fleet model once per (time,
// window) and serves the dashboard's and the report's findings, fleet
// summary, team costs and queue view from that one evaluation, so they
// cannot disagree. It keeps the last few evaluations: concurrent panels
// and viewers asking for one (time, window) share one evaluation, and a
// page that follows the clock reads the newest kept one (AsOf) instead of
// evaluating the whole fleet again for every page and viewer.
type fleetView struct {
	d *diagnose.Diagnoser
	// bg is d for the evaluations no page waits for (the live refresh):
	// one query at a time, leaving the other core to the pages served.
	bg *diagnose.Diagnoser
	// fc and q give the fleet model per cluster (nil fc: none).
	fc *fleet.Calculator
	q  query.Querier
	// clock is the wall clock (time.Now outside tests).
	clock func() time.Time

	mu sync.Mutex
	// evals are the kept and running evaluations, at most maxEvals done.
	evals map[evalKey]*evaluation
}

// Live evaluations: a page following the clock reads the newest kept
// evaluation of its window while it is at most liveMaxAge old, and one
// older than liveRefresh is evaluated again in the background. The whole
// fleet is then evaluated at most once a minute per window however many
// pages and viewers follow it, and no page waits for it but the first.
const (
	liveRefresh = time.Minute
	liveMaxAge  = 3 * time.Minute
	// liveTimeout bounds a background evaluation (each query is bounded
	// by the engine's own timeout too).
	liveTimeout = 5 * time.Minute
	// maxEvals bounds the evaluations kept (the newest stay).
	maxEvals = 3
	// failedTTL is how long a failed evaluation answers for its time.
	failedTTL = 10 * time.Second
)

type evalKey struct {
	at     time.Time
	window time.Duration
}

// evaluation is one diagnosis; done is closed when rep and err are set.
type evaluation struct {
	done chan struct{}
	rep  *diagnose.Report
	err  error
	// at is when it finished, on the wall clock.
	at time.Time
	// summary is the fleet summary of rep, built once.
	summaryOnce sync.Once
	summary     *web.FleetSummary
	summaryErr  error
}

func (e *evaluation) finished() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// newFleet builds the fleet calculator over the cost calculator, judging
// unusable GPUs at the diagnosis thresholds' th (zero: the defaults); nil
// calc gives nil (no fleet model: the panels say "not available").
func newFleet(cat *schema.Catalog, calc *cost.Calculator, recorded bool, th health.Thresholds) (*fleet.Calculator, error) {
	if calc == nil {
		return nil, nil
	}
	return fleet.New(fleet.Options{Cost: calc, Catalog: cat, Recorded: recorded, Health: th})
}

func newFleetView(q query.Querier, cat *schema.Catalog, calc *cost.Calculator, th diagnose.Thresholds, recorded bool, logger *slog.Logger) (*fleetView, error) {
	fc, err := newFleet(cat, calc, recorded, th.Health)
	if err != nil {
		return nil, err
	}
	d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Recorded: recorded, Thresholds: th, Fleet: fc, ClusterLabel: cat.ClusterLabel(), Logger: logger})
	if err != nil {
		return nil, err
	}
	return &fleetView{d: d, bg: d.Background(), fc: fc, q: q, clock: time.Now, evals: map[evalKey]*evaluation{}}, nil
}

// AsOf implements web.Live: the time of the newest evaluation of window
// kept (or running) that is at most liveMaxAge before now, starting a
// fresh one at now in the background when it is older than liveRefresh;
// now itself when none is (the panels then evaluate at now, once).
func (v *fleetView) AsOf(ctx context.Context, now time.Time, window time.Duration) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	var newest, running *evaluation
	var at, runningAt time.Time
	for k, e := range v.evals {
		if k.window != window || k.at.After(now) || now.Sub(k.at) > liveMaxAge {
			continue
		}
		if !e.finished() {
			if running == nil || k.at.After(runningAt) {
				running, runningAt = e, k.at
			}
			continue
		}
		if e.err == nil && (newest == nil || k.at.After(at)) {
			newest, at = e, k.at
		}
	}
	switch {
	case newest == nil && running != nil:
		return runningAt
	case newest == nil:
		return now
	}
	if now.Sub(at) >= liveRefresh && (running == nil || runningAt.Before(at)) {
		// Nobody waits for the refresh (the page reads the kept
		// evaluation): it asks one query at a time (v.bg), and its queries
		// leave a query slot to the pages'.
		v.startLocked(query.Background(ctx), evalKey{now, window}, v.bg)
	}
	return at
}

// diagnose returns the evaluation at (now, window), evaluating it unless
// it is kept or running.
func (v *fleetView) diagnose(ctx context.Context, now time.Time, window time.Duration) (*evaluation, error) {
	v.mu.Lock()
	e := v.startLocked(ctx, evalKey{now, window}, v.d)
	v.mu.Unlock()
	select {
	case <-e.done:
		return e, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("diagnosis at %s: %w", now.UTC().Format(time.RFC3339), context.Cause(ctx))
	}
}

// startLocked returns the evaluation at k, starting it with d unless it
// is kept or running. v.mu must be held. A failed evaluation is kept for
// failedTTL only (the panels of one page share it; a reload tries again).
// The evaluation outlives a caller that gives up: it runs with ctx's
// values but not its end, bounded by liveTimeout, and waiters with live
// contexts still get it.
func (v *fleetView) startLocked(ctx context.Context, k evalKey, d *diagnose.Diagnoser) *evaluation {
	if e := v.evals[k]; e != nil && !(e.finished() && e.err != nil && v.clock().Sub(e.at) > failedTTL) {
		return e
	}
	e := &evaluation{done: make(chan struct{})}
	v.evals[k] = e
	v.evictLocked()
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), liveTimeout)
		defer cancel()
		rep, err := d.Diagnose(ctx, k.at, k.window)
		v.mu.Lock()
		e.rep, e.err, e.at = rep, err, v.clock()
		close(e.done)
		v.mu.Unlock()
	}()
	return e
}

// evictLocked drops the oldest finished evaluations beyond maxEvals.
func (v *fleetView) evictLocked() {
	for {
		var oldest *evalKey
		n := 0
		for k, e := range v.evals {
			if !e.finished() {
				continue
			}
			n++
			if oldest == nil || k.at.Before(oldest.at) {
				oldest = &k
			}
		}
		if n <= maxEvals || oldest == nil {
			return
		}
		delete(v.evals, *oldest)
	}
}

// Findings implements web.Findings.
func (v *fleetView) Findings(ctx context.Context, now time.Time, window time.Duration) ([]web.Finding, error) {
	e, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	return webFindings(e.rep), nil
}

// Fleet implements web.Fleet: the summary is built once per evaluation
// and shared, so callers must not modify it.
func (v *fleetView) Fleet(ctx context.Context, now time.Time, window time.Duration) (*web.FleetSummary, error) {
	e, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	e.summaryOnce.Do(func() {
		// The evaluation's context, not this caller's: the summary is
		// shared by every later caller.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), liveTimeout)
		defer cancel()
		e.summary, e.summaryErr = v.summary(sctx, e.rep, now, window)
	})
	return e.summary, e.summaryErr
}

func (v *fleetView) summary(ctx context.Context, rep *diagnose.Report, now time.Time, window time.Duration) (*web.FleetSummary, error) {
	u := rep.Utilisation
	f := &web.FleetSummary{Model: u.Fleet, MeanBusy: u.MeanBusy, LowBusy: u.Bands[0], HighBusy: u.Bands[1],
		BelowLow: u.BelowLowMean, AboveHigh: u.AboveHighMean, Unusable: rep.Unusable}
	if v.fc != nil {
		var err error
		if f.Clusters, err = v.fc.PerCluster(ctx, v.q, now.Add(-window), now, 0); err != nil {
			return nil, err
		}
	}
	many := len(rep.Clusters()) > 1
	for _, c := range rep.Capacity {
		name := c.Model
		if many {
			name = clusterName(c.Cluster) + ":" + name
		}
		f.Capacity = append(f.Capacity, web.Capacity{Model: name, GPU: c.Kind(), Held: c.Held, PeakDemand: c.PeakDemand, MeanBusy: c.MeanBusy,
			Needed: c.Needed, Saturated: c.Saturated, Advice: c.Advice})
	}
	return f, nil
}

// TeamCosts implements web.Costs from the fleet model's teams: one row
// per team, then the unshared idle hours as __idle__; they add up to the
// fleet's allocatable GPU-hours.
func (v *fleetView) TeamCosts(ctx context.Context, now time.Time, window time.Duration) ([]web.TeamCost, error) {
	e, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	m := e.rep.Utilisation.Fleet
	if m == nil {
		return nil, fmt.Errorf("cost attribution: %w", errNoFleet)
	}
	return teamRows(m.Currency, m.Teams, m.Idle), nil
}

// teamRows are allocations as the dashboard's team rows.
func teamRows(currency string, as []cost.Allocation, idle *cost.Allocation) []web.TeamCost {
	if idle != nil {
		as = append(as[:len(as):len(as)], *idle)
	}
	var out []web.TeamCost
	for _, a := range as {
		tc := web.TeamCost{Team: a.Name, Reserved: a.ReservedGPUHours, Allocated: a.AllocatedGPUHours,
			Used: a.UsedGPUHours, Unused: max(0, a.AllocatedGPUHours-a.UsedGPUHours), Idle: a.IdleGPUHours,
			EnergyKWh: a.EnergyKWh, EmissionsKgCO2e: a.EmissionsKgCO2e}
		if currency != "" && (len(a.Unpriced) == 0 || a.Cost != 0 || a.IdleCost != 0) {
			tc.Cost, tc.UnusedCost, tc.IdleCost = a.Cost.Format(currency), a.UnusedCost.Format(currency), a.IdleCost.Format(currency)
		}
		out = append(out, tc)
	}
	return out
}

// webFindings converts a diagnosis' findings for the dashboard: by impact,
// identical findings on the pods of one deployment grouped into one line,
// healthy ones left out (web.Finding.Healthy counts them on the first).
func webFindings(r *diagnose.Report) []web.Finding {
	groups, healthy := diagnose.Visible(r.Findings)
	out := make([]web.Finding, 0, len(groups))
	many := len(r.Clusters()) > 1
	for _, g := range groups {
		x := g.Finding
		subject := g.Subject
		if many {
			subject = clusterName(x.Subject.Cluster) + ":" + subject
		}
		if g.Count > 1 {
			subject += " (" + strconv.Itoa(g.Count) + " pods)"
		}
		w := web.Finding{Subject: subject, State: string(x.State), Severity: string(x.Severity),
			Confidence: x.Confidence, Since: x.Since, Summary: x.Summary, Action: x.Action, Count: g.Count, GPUHours: g.GPUHours}
		for _, e := range x.Evidence {
			w.Evidence = append(w.Evidence, web.Evidence{Signal: e.Signal, Value: e.Text(), Query: e.Query})
		}
		out = append(out, w)
	}
	if len(out) == 0 && healthy == 0 {
		return out
	}
	return append(out, web.Finding{State: "healthy", Severity: "info", Count: healthy,
		Subject: strconv.Itoa(healthy) + " healthy subjects hidden"})
}

// clusterName names a subject's cluster where several show: its cluster
// label, or cluster.Unnamed for series without one.
func clusterName(c string) string {
	if c == "" {
		return cluster.Unnamed
	}
	return c
}

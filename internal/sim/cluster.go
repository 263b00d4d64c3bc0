package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// MaxGPUs is the largest fleet a cluster accepts; beyond it memory, not
// only CPU, runs out (about 6 KB of state per GPU plus in-flight requests).
const MaxGPUs = 100_000

// errNoScenario is returned by NewCluster without a scenario.
var errNoScenario = errors.New("sim: Options.Scenario is nil")

// Options configures a Cluster.
type Options struct {
	// Scenario is the validated scenario (LoadScenario / ParseScenario).
	Scenario *Scenario
	// GPUs sizes the fleet; 0 uses the scenario's gpus.
	GPUs int
	// Seed fixes every random draw: the same seed, scenario, size and
	// start give the same exposition and truth.
	Seed uint64
	// Start is the simulated time of the first tick; zero means
	// 2026-01-01T00:00:00Z.
	Start time.Time
	// Tick is the engine model's step window (default 1s).
	Tick time.Duration
	// TruthRetention bounds the per-pod per-minute truth kept (default 6h).
	TruthRetention time.Duration
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
}

// Cluster is the simulated cluster. All methods are safe for concurrent
// use: Step takes the write lock, scrapes and truth reads take the read lock.
type Cluster struct {
	mu      sync.RWMutex
	sc      *Scenario
	plan    *plan
	logger  *slog.Logger
	seed    uint64
	start   time.Time
	tick    float64
	now     float64 // seconds since start
	rng     *rand.Rand
	buckets *bucketSet
	gpus    int

	nodes     []*node
	teams     []*team
	deps      []*deployment
	jobs      []*jobStream
	workloads []*workload
	pods      []*pod
	kueue     kueueState
	truth     *truthLog
	fleet     FleetTruth
	// models are the served models' truth (truth_tokens.go).
	models    map[modelKey]*ModelTruth
	nextEvent int
	serial    uint64
	podIdx    map[string]*pod  // ns/name → running serving pod
	nodeIdx   map[string]*node // name → node
	rend      *renderer
}

// NewCluster builds the cluster at its start time: nodes, GPUs, queues and
// workloads, with serving replicas admitted and their engines started.
func NewCluster(o Options) (*Cluster, error) {
	if o.Scenario == nil {
		return nil, errNoScenario
	}
	sc := o.Scenario
	gpus := o.GPUs
	if gpus == 0 {
		gpus = sc.GPUs
	}
	if gpus < 1 || gpus > MaxGPUs {
		return nil, fmt.Errorf("scenario %q: --gpus %d is outside 1..%d, the simulator's memory limit", sc.Name, gpus, MaxGPUs)
	}
	pl, path, reason := sc.size(gpus)
	if reason == "" {
		path, reason = sc.checkQuotas(pl)
	}
	if reason != "" {
		return nil, fmt.Errorf("scenario %q at %d GPUs: %v: %s", sc.Name, gpus, path, reason)
	}
	requested := gpus
	gpus = pl.gpus // whole nodes, at least one per pool
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.TruthRetention <= 0 {
		o.TruthRetention = 6 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		sc: sc, plan: pl, logger: o.Logger.With("component", "sim"), seed: o.Seed, start: o.Start,
		tick: o.Tick.Seconds(), rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), gpus: gpus,
		buckets: newBucketSet(32768), podIdx: map[string]*pod{}, nodeIdx: map[string]*node{},
		rend: newRenderer(sc.Exporter, sc.hasRoles()),
	}
	c.truth = newTruthLog(int(o.TruthRetention / time.Minute))
	if err := c.build(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", sc.Name, err)
	}
	c.admitAll()
	if gpus != requested {
		c.logger.Info("fleet rounded to whole nodes, at least one per node pool", "requested_gpus", requested, "gpus", gpus)
	}
	c.logger.Info("simulated cluster built", "scenario", sc.Name, "gpus", gpus, "nodes", len(c.nodes), "pods", len(c.pods), "seed", o.Seed)
	return c, nil
}

// Now returns the simulated time.
func (c *Cluster) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.at(c.now)
}

// Start returns the simulated start time.
func (c *Cluster) Start() time.Time { return c.start }

// GPUs returns the fleet size in physical GPUs: the requested size rounded
// to whole nodes, with at least one node per pool.
func (c *Cluster) GPUs() int { return c.gpus }

// Scenario returns the scenario the cluster runs.
func (c *Cluster) Scenario() *Scenario { return c.sc }

func (c *Cluster) at(s float64) time.Time {
	return c.start.Add(time.Duration(s * float64(time.Second)))
}

func (c *Cluster) unix(s float64) float64 {
	return float64(c.start.UnixNano())/1e9 + s
}

// Step advances simulated time to to (by whole ticks); earlier times are a no-op.
func (c *Cluster) Step(to time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := to.Sub(c.start).Seconds()
	for c.now+c.tick <= end+1e-9 {
		c.step(c.now, c.tick)
		c.now += c.tick
		if int(c.now/60) != int((c.now-c.tick)/60) {
			c.closeMinute()
		}
	}
}

// step is one tick of the whole cluster.
//
//go:norace
func (c *Cluster) step(t, dt float64) {
	c.applyEvents(t)
	c.stepHealth(t)
	c.jobArrivals(t, dt)
	c.admitAll()
	for _, d := range c.deps {
		c.stepDeployment(d, t, dt)
	}
	for _, p := range c.pods {
		if p.job != nil && p.phase == phaseRunning {
			if !c.readyIfStarted(p.wl) {
				continue // pulling images: GPUs held, idle
			}
			j := p.job
			for _, g := range p.units {
				b := j.js.Busy * (0.97 + 0.06*c.rng.Float64())
				g.act = activity{busy: min(1, b), tensor: 0.6 * b, dram: 0.45 * b}
			}
			p.wl.runLeft -= dt
			if p.wl.runLeft <= 0 {
				c.finishJob(p.wl, t+dt)
			}
		}
	}
	c.observeQueues()
	c.reapPods(t)
	approach := 1 - math.Exp(-dt/60)
	for _, n := range c.nodes {
		for _, g := range n.units {
			g.physics(dt, approach)
		}
	}
	c.accountTeams(dt)
	c.accountModels(dt)
}

// rateAt is the offered request rate multiplier of a load at t: a 24 h sine
// peaking at 15:00 UTC and the active bursts.
//
//go:norace
func (c *Cluster) rateAt(l *Load, t float64) float64 {
	h := float64(c.at(t).Hour()) + float64(c.at(t).Minute())/60
	m := 1 + l.Diurnal*math.Cos(2*math.Pi*(h-15)/24)
	for _, b := range l.Bursts {
		off := t - b.At.D().Seconds()
		if off < 0 {
			continue
		}
		if every := b.Every.D().Seconds(); every > 0 {
			off = math.Mod(off, every)
		}
		if off < b.For.D().Seconds() {
			m *= b.Factor
		}
	}
	return m
}

// stepDeployment spreads the deployment's offered load over its running
// replicas and data-parallel engines and ticks each engine.
//
//go:norace
func (c *Cluster) stepDeployment(d *deployment, t, dt float64) {
	total := d.spec.Load.Rate * float64(d.replicas) * c.rateAt(&d.spec.Load, t)
	d.offered += total * dt
	running := 0
	for _, w := range d.workloads {
		if w.pod != nil && !w.pod.asleep {
			running++
		}
	}
	if d.src != nil {
		c.deliverHandoffs(d, t)
	}
	if running == 0 {
		d.dropped += total * dt
		c.sleepTick(d, dt)
		return
	}
	per := total / float64(running) / float64(d.spec.DP)
	defer c.collectHandoffs(d)
	if d.cfg.gw != nil {
		d.cfg.gw.engines = running * d.spec.DP
	}
	for _, w := range d.workloads {
		p := w.pod
		if p == nil {
			continue
		}
		if p.asleep {
			sleepPod(p, dt)
			continue
		}
		stalled := p.stalled(t)
		for _, e := range p.engines {
			e.tick(t, dt, per, stalled)
		}
		for i, g := range p.units {
			e := p.engines[min(i/d.spec.TP, len(p.engines)-1)]
			g.act = e.act
		}
	}
}

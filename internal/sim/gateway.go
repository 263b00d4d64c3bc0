package sim

import (
	"fmt"
	"math"
)

// Gateway kinds: llm-d's endpoint picker with flow control, and NVIDIA
// Dynamo's frontend with its KV router's queue (--router-queue-threshold).
const (
	GatewayLLMD   = "llm-d"
	GatewayDynamo = "dynamo"
)

// GatewaySpec puts an inference gateway in front of a deployment: requests
// reach it first, and it holds them in its own queue while every engine of
// the pool is saturated, so a saturated pool's demand waits at the gateway
// where the engines' queues never show it.
type GatewaySpec struct {
	Kind string `yaml:"kind"` // llm-d or dynamo
	// QueueDepth is the engine queue at which an endpoint counts as
	// saturated and the gateway stops dispatching to it (the EPP's
	// queueDepthThreshold, default 5).
	QueueDepth int `yaml:"queue_depth"`
	// Tenants split the requests by fairness_id (llm-d's flow-control
	// tenant); default one tenant named after the deployment's team.
	Tenants []Tenant `yaml:"tenants"`
}

// Tenant is one fairness_id and its share of the requests.
type Tenant struct {
	FairnessID string  `yaml:"fairness_id"`
	Share      float64 `yaml:"share"`
}

// kvSaturation is the KV usage at which an endpoint counts as saturated
// (the EPP's kvCacheUtilThreshold default).
const kvSaturation = 0.8

//go:norace
func validateGateway(g *GatewaySpec, at func(k ...any) []any) ([]any, string) {
	if g == nil {
		return nil, ""
	}
	switch {
	case g.Kind != GatewayLLMD && g.Kind != GatewayDynamo:
		return at("gateway", "kind"), fmt.Sprintf("unknown gateway kind %q (llm-d, dynamo)", g.Kind)
	case g.QueueDepth < 0:
		return at("gateway", "queue_depth"), fmt.Sprintf("queue_depth must not be negative, got %d", g.QueueDepth)
	}
	var sum float64
	seen := map[string]bool{}
	for i, t := range g.Tenants {
		switch {
		case t.FairnessID == "" || seen[t.FairnessID]:
			return at("gateway", "tenants", i, "fairness_id"), fmt.Sprintf("tenant fairness_id %q is empty or repeated", t.FairnessID)
		case !(t.Share > 0 && t.Share <= 1):
			return at("gateway", "tenants", i, "share"), fmt.Sprintf("share must be in (0, 1], got %g", t.Share)
		}
		seen[t.FairnessID] = true
		sum += t.Share
	}
	if len(g.Tenants) > 0 && math.Abs(sum-1) > 1e-6 {
		return at("gateway", "tenants"), fmt.Sprintf("tenant shares must add up to 1, got %g", sum)
	}
	return nil, ""
}

// gateway is the simulated gateway of one deployment. It outlives the
// deployment's pods: its counters are the gateway process's.
type gateway struct {
	spec    GatewaySpec
	pod     string // the gateway pod's name
	ip      string
	depth   int
	tenants []Tenant
	cum     []float64 // cumulative tenant shares, for drawing
	// held is the gateway's queue, oldest first.
	held []*request
	// engines is how many engines the gateway dispatched to in the last
	// step; each engine's truth carries its share of the queue.
	engines int
	// Cumulative counters per tenant.
	requests, errors []float64
	outputTokens     float64
	ttft, itl        hist
	created          float64
}

//go:norace
func newGateway(spec GatewaySpec, team, pod, ip string, created float64) *gateway {
	g := &gateway{spec: spec, pod: pod, ip: ip, depth: spec.QueueDepth, tenants: spec.Tenants, created: created,
		ttft: newHist(dynamoTTFTBuckets), itl: newHist(dynamoITLBuckets)}
	if g.depth == 0 {
		g.depth = 5
	}
	if len(g.tenants) == 0 {
		g.tenants = []Tenant{{FairnessID: team, Share: 1}}
	}
	var c float64
	for _, t := range g.tenants {
		c += t.Share
		g.cum = append(g.cum, c)
	}
	g.requests = make([]float64, len(g.tenants))
	g.errors = make([]float64, len(g.tenants))
	return g
}

// tenantOf draws a tenant for a request from u in [0, 1).
//
//go:norace
func (g *gateway) tenantOf(u float64) int {
	for i, c := range g.cum {
		if u < c {
			return i
		}
	}
	return len(g.cum) - 1
}

// arrive takes a new request into the gateway's queue.
//
//go:norace
func (g *gateway) arrive(r *request, u float64) {
	r.tenant = g.tenantOf(u)
	r.gwArrival = r.arrival
	g.requests[r.tenant]++
	g.held = append(g.held, r)
}

// dispatch moves held requests, oldest first, to the engine while its own
// queue is below the gateway's depth and its KV cache below saturation:
// flow control holds the rest.
//
//go:norace
func (g *gateway) dispatch(e *engine, t float64) {
	i := 0
	for ; i < len(g.held) && len(e.waiting) < g.depth && e.kvUsage() < kvSaturation; i++ {
		r := g.held[i]
		r.arrival = max(r.arrival, t) // the engine sees it from now
		e.waiting = append(e.waiting, r)
	}
	g.drop(i)
}

// feed dispatches and admits in turn, as the EPP keeps dispatching while
// the engine takes requests into its batch within the tick: the engine
// ends the tick with at most the gateway's depth waiting.
//
//go:norace
func (g *gateway) feed(e *engine, t float64) {
	for len(g.held) > 0 && len(e.waiting) < g.depth {
		n := len(g.held)
		g.dispatch(e, t)
		e.admit(t)
		if len(g.held) == n {
			return
		}
	}
}

// abortStale fails the held requests whose clients gave up.
//
//go:norace
func (g *gateway) abortStale(t float64, e *engine) {
	i := 0
	for ; i < len(g.held) && t-g.held[i].gwArrival > abortAfter; i++ {
		g.errors[g.held[i].tenant]++
		if e != nil {
			e.free = append(e.free, g.held[i])
		}
	}
	g.drop(i)
}

//go:norace
func (g *gateway) drop(n int) {
	if n == 0 {
		return
	}
	k := copy(g.held, g.held[n:])
	clear(g.held[k:])
	g.held = g.held[:k]
}

// heldBy counts the held requests per tenant.
//
//go:norace
func (g *gateway) heldBy() []float64 {
	out := make([]float64, len(g.tenants))
	for _, r := range g.held {
		out[r.tenant]++
	}
	return out
}

// saturation is the pool's saturation as the EPP's utilization detector
// reads it: per endpoint the larger of queue over depth and KV over its
// threshold, averaged over the pool; an empty pool reads 1.
//
//go:norace
func (g *gateway) saturation(engines []*engine) float64 {
	if len(engines) == 0 {
		return 1
	}
	var s float64
	for _, e := range engines {
		s += max(float64(len(e.waiting))/float64(g.depth), e.kvUsage()/kvSaturation)
	}
	return s / float64(len(engines))
}

// Bucket bounds of Dynamo's frontend histograms, as its capture shows them.
var (
	dynamoTTFTBuckets = []float64{0, 0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47, 1, 2.2, 4.7, 10, 22, 48, 100, 220, 480}
	dynamoITLBuckets  = []float64{0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2}
)

package sim

import "math/rand/v2"

const (
	blockTokens     = 16    // vLLM KV block size
	activationBytes = 1.5e9 // per GPU, activations and CUDA graphs outside the KV pool
	abortAfter      = 300.0 // seconds a request waits before its client gives up
	mib             = 1 << 20
)

// kvCapacityTokens is the KV cache size of one engine: the card's memory ×
// gpu_memory_utilization over tp GPUs, minus weights and activations.
//
//go:norace
func kvCapacityTokens(g gpuSpec, m modelSpec, tp int, util float64) float64 {
	free := g.memoryMiB*mib*util*float64(tp) - m.weightBytes - activationBytes*float64(tp)
	return max(0, free/m.kvPerToken)
}

// engineConfig is shared by every engine of a deployment.
type engineConfig struct {
	kind        string
	model       modelSpec
	gpu         gpuSpec // one allocatable unit (a MIG slice on MIG pools)
	tp          int
	maxNumSeqs  int
	maxBatched  int
	cpuOverhead float64 // seconds per step
	spec        *SpecDecode
	role        string      // prefill, decode, or "" (unified)
	kv          *KVTransfer // decode: the KV transfer from prefill workers
	blocks      int         // KV blocks of one engine
	load        Load
	memUtil     float64
	gw          *gateway // the deployment's gateway, nil without one
}

// request is one in-flight request. Times are simulated seconds since start.
type request struct {
	arrival, scheduled, firstToken float64
	prompt, output, generated      int
	prefillLeft                    int
	blocks                         int
	preemptions                    int
	maxTokens                      int // 0 when the client did not set max_tokens
	byLength                       bool
	// Disaggregation: decodeOutput is the output a prefill worker's
	// request asks of its decode worker; ready is when a decode worker's
	// KV transfer of it completes.
	decodeOutput int
	ready        float64
	// gwArrival is when the request reached the deployment's gateway, and
	// tenant its fairness_id (index into the gateway's tenants); arrival
	// is when the engine received it.
	gwArrival float64
	tenant    int
}

// engineCounters are the engine's cumulative counters.
type engineCounters struct {
	promptTokens, generationTokens    float64
	preemptions                       float64
	success                           [3]float64 // stop, length, abort
	prefixQueries, prefixHits         float64
	drafts, draftTokens, acceptedSpec float64
	iterations                        float64
	promptSeconds, decodeSeconds      float64
}

// engineHists are the engine's histograms.
type engineHists struct {
	ttft, itl, tpot, e2e, queue, inference, prefill, decode hist
	promptTok, genTok, maxGenTok, maxTokens, paramsN        hist
	preempt, iterTok                                        hist
}

// activity is what the GPU did during the last tick, as shares of it.
type activity struct {
	busy, dram, tensor float64
}

// minuteAgg accumulates one minute of an engine for the ground truth.
type minuteAgg struct {
	seconds, busy, tensor, dram, running, waiting float64
	kvMax, kvSum                                  float64
	preemptions                                   float64
	ttftSum                                       float64
	ttftN                                         float64
	drafts, accepted                              float64
	offered                                       float64
	// Disaggregation: requests waiting for KV (×seconds), transfers done,
	// their seconds, and failed ones.
	transferWaiting, xferN, xferSeconds, xferFailed float64
	gwHeld                                          float64 // this engine's share of the gateway's queue × seconds
}

// engine is one engine core (one vLLM engine, one data-parallel rank).
type engine struct {
	cfg        *engineConfig
	index      int
	rng        *rand.Rand
	created    float64 // unix seconds
	waiting    []*request
	running    []*request
	usedBlocks int
	stepCarry  float64
	c          engineCounters
	h          engineHists
	act        activity
	lastGen    float64 // generation tokens/s over the last tick
	decBuf     []*request
	tokBuf     []int
	minute     minuteAgg
	// truthSeen is what the truth last read of the token counters.
	truthSeen engineSeen
	// preemptNoPressure counts preemptions made while enough blocks were
	// free; the physics test checks that it stays 0.
	preemptNoPressure int
	// finishedOutput and abortedGenerated let the physics test check that
	// generated tokens equal the sum of the requests' outputs.
	finishedOutput, abortedGenerated float64
	// promptLen and outputLen draw request lengths; free holds finished
	// requests for reuse.
	promptLen, outputLen lengthDist
	free                 []*request
	// pd is the disaggregation state (engine_pd.go); asleep is sleep mode.
	pd     pdState
	asleep bool
}

//go:norace
func newEngine(cfg *engineConfig, b *bucketSet, index int, seed uint64, created float64) *engine {
	e := &engine{cfg: cfg, index: index, rng: rand.New(rand.NewPCG(seed, uint64(index)+0x9e3779b97f4a7c15)), created: created,
		promptLen: newLengthDist(cfg.load.PromptTokens), outputLen: newLengthDist(cfg.load.OutputTokens)}
	e.pd.xferTime, e.pd.xferBytesH = newHist(nixlTimeBounds), newHist(nixlBytesBounds)
	h := &e.h
	lat, ttft, itl, e2e, queue := b.requestLatency, b.ttft, b.itl, b.requestLatency, b.requestLatency
	if cfg.kind == EngineSGLang {
		ttft, itl, e2e, queue = b.sglangTTFT, b.sglangITL, b.sglangE2E, b.sglangQueue
	}
	// One allocation holds every bucket count, so that a request's dozen
	// observations touch adjacent memory.
	hs := []struct {
		h      *hist
		bounds []float64
	}{
		{&h.e2e, e2e}, {&h.queue, queue}, {&h.inference, lat}, {&h.prefill, lat}, {&h.decode, lat},
		{&h.ttft, ttft}, {&h.itl, itl}, {&h.tpot, b.itl},
		{&h.promptTok, b.requestTokens}, {&h.genTok, b.requestTokens}, {&h.maxGenTok, b.requestTokens}, {&h.maxTokens, b.requestTokens},
		{&h.paramsN, b.paramsN}, {&h.preempt, b.numPreemptions}, {&h.iterTok, b.iterationTokens},
	}
	n := 0
	for _, x := range hs {
		n += len(x.bounds) + 1
	}
	slab := make([]uint64, n)
	for _, x := range hs {
		k := len(x.bounds) + 1
		*x.h = hist{bounds: x.bounds, counts: slab[:k:k]}
		slab = slab[k:]
	}
	return e
}

// newRequest takes a request from the free list, or allocates one.
//
//go:norace
func (e *engine) newRequest() *request {
	if n := len(e.free); n > 0 {
		r := e.free[n-1]
		e.free[n-1] = nil
		e.free = e.free[:n-1]
		return r
	}
	return &request{}
}

// kvUsage is the share of KV blocks in use.
//
//go:norace
func (e *engine) kvUsage() float64 {
	if e.cfg.blocks == 0 {
		return 0
	}
	return float64(e.usedBlocks) / float64(e.cfg.blocks)
}

//go:norace
func blocksFor(tokens int) int { return (tokens + blockTokens - 1) / blockTokens }

// acceptedPerDraft is the expected accepted tokens per draft of k tokens
// with per-token acceptance a: a + a² + … + a^k.
//
//go:norace
func acceptedPerDraft(sd *SpecDecode) float64 {
	if sd == nil {
		return 0
	}
	s, p := 0.0, 1.0
	for i := 0; i < sd.NumTokens; i++ {
		p *= sd.Acceptance
		s += p
	}
	return s
}

// tick advances the engine by dt seconds starting at t with rate requests/s
// offered: arrivals, admission, a prefill phase and a decode phase whose
// step times come from the roofline, preemption, and completions. A stalled
// engine (its GPU hit an XID) only queues arrivals.
//
//go:norace
func (e *engine) tick(t, dt, rate float64, stalled bool) {
	cfg := e.cfg
	n := poisson(e.rng, rate*dt)
	for range n {
		p, o := e.promptLen.draw(e.rng), e.outputLen.draw(e.rng)
		r := e.newRequest()
		*r = request{arrival: t + e.rng.Float64()*dt, scheduled: -1, firstToken: -1, prompt: p, output: o}
		if lim := cfg.model.maxModelLen; p+o > lim {
			r.prompt = min(p, lim-1)
			r.output = lim - r.prompt
			r.byLength = true
		}
		if e.rng.Float64() < 0.7 { // most clients set max_tokens
			r.maxTokens = r.output
			if e.rng.Float64() < 0.85 && !r.byLength {
				r.maxTokens = r.output * 2
			} else {
				r.byLength = true
			}
		}
		r.prefillLeft = r.prompt
		if cfg.role == RolePrefill { // the decode worker generates the rest
			r.decodeOutput, r.output = r.output, 1
		}
		if cfg.gw != nil {
			cfg.gw.arrive(r, e.rng.Float64())
			continue
		}
		e.waiting = append(e.waiting, r)
	}
	e.minute.offered += float64(n)
	e.abortStale(t)
	if cfg.gw != nil {
		cfg.gw.abortStale(t, e)
	}
	genBefore := e.c.generationTokens
	var busy, bytes, flops float64
	start, left := t, dt
	if stalled {
		left = 0
	} else {
		e.landTransfers(t, dt)
		e.admit(t)
		if cfg.gw != nil {
			cfg.gw.feed(e, t)
		}
	}
	// Full prefill chunks, then the remainder as smaller steps.
	for range 4 {
		if left <= 1e-9 || !e.prefillPending() {
			break
		}
		used, b, by, fl := e.prefillPhase(start, left)
		if used == 0 {
			break
		}
		busy += b
		bytes += by
		flops += fl
		start += used
		left -= used
	}
	if left > 1e-9 {
		b, by, fl := e.decodePhase(start, left)
		busy += b
		bytes += by
		flops += fl
	}
	if cfg.role == RolePrefill {
		e.handOff(t + dt)
	}
	e.lastGen = (e.c.generationTokens - genBefore) / dt
	if cfg.gw != nil {
		cfg.gw.outputTokens += e.c.generationTokens - genBefore
		// After this engine took what it could: its share of what the
		// gateway still holds.
		e.minute.gwHeld += float64(len(cfg.gw.held)) / float64(max(cfg.gw.engines, 1)) * dt
	}
	busy = min(busy, dt)
	e.act = activity{
		busy:   busy / dt,
		dram:   min(1, bytes/(cfg.gpu.bandwidth*dt)),
		tensor: min(1, flops/(cfg.gpu.flops*dt)),
	}
	kv := e.kvUsage()
	m := &e.minute
	m.seconds += dt
	m.busy += e.act.busy * dt
	m.tensor += e.act.tensor * dt
	m.dram += e.act.dram * dt
	m.running += float64(len(e.running)) * dt
	m.waiting += float64(len(e.waiting)) * dt
	m.kvSum += kv * dt
	m.kvMax = max(m.kvMax, kv)
	m.transferWaiting += float64(len(e.pd.transfers)) * dt
}

package sim

// handoff is a request a prefill worker finished: its prompt's KV is ready
// to move to a decode worker, which generates the rest of its output (the
// first token is the prefill worker's).
type handoff struct {
	prompt, output int
	at             float64 // when the prefill finished
}

// pdState is an engine's disaggregation state: on a decode worker the
// requests whose KV is in transfer; on a prefill worker the handoffs of
// the last tick; the transfer counters and histograms both render.
type pdState struct {
	transfers []*request
	handoffs  []handoff
	// Cumulative: transfers done, their seconds and bytes, failed ones.
	xferN, xferSeconds, xferBytes, xferFailed float64
	xferTime, xferBytesH                      hist
	// lastLatency and lastSpeed are the last transfer's, as SGLang's
	// gauges show them (ms, GB/s).
	lastLatencyMS, lastSpeedGBs float64
}

// Bucket edges of the simulated NIXL histograms (seconds, bytes).
var (
	nixlTimeBounds  = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	nixlBytesBounds = []float64{1 << 20, 8 << 20, 64 << 20, 256 << 20, 1 << 30, 4 << 30}
)

// transferSeconds is how long moving a prompt's KV takes.
//
//go:norace
func (cfg *engineConfig) transferSeconds(prompt int) float64 {
	kv := cfg.kv
	return kv.Latency.D().Seconds() + float64(prompt)*cfg.model.kvPerToken/(kv.BandwidthGBps*1e9)
}

// receive starts the KV transfer of a handoff on a decode worker.
//
//go:norace
func (e *engine) receive(h handoff, t float64) {
	r := e.newRequest()
	*r = request{arrival: h.at, scheduled: -1, firstToken: -1, prompt: h.prompt, output: max(2, h.output), generated: 1}
	r.ready = max(t, h.at) + e.cfg.transferSeconds(h.prompt)
	e.pd.transfers = append(e.pd.transfers, r)
	e.minute.offered++
}

// landTransfers moves the transfers complete by t+dt into the waiting
// queue, their prompt already computed; a failed one is aborted.
//
//go:norace
func (e *engine) landTransfers(t, dt float64) {
	if len(e.pd.transfers) == 0 {
		return
	}
	kept := e.pd.transfers[:0]
	for _, r := range e.pd.transfers {
		if r.ready > t+dt {
			kept = append(kept, r)
			continue
		}
		secs := r.ready - r.arrival
		if e.rng.Float64() < e.cfg.kv.FailureRate {
			e.pd.xferFailed++
			e.minute.xferFailed++
			e.c.success[2]++
			e.free = append(e.free, r)
			continue
		}
		bytes := float64(r.prompt) * e.cfg.model.kvPerToken
		e.pd.xferN++
		e.pd.xferSeconds += secs
		e.pd.xferBytes += bytes
		e.pd.xferTime.observeN(secs, 1)
		e.pd.xferBytesH.observeN(bytes, 1)
		e.pd.lastLatencyMS = secs * 1000
		e.pd.lastSpeedGBs = bytes / secs / 1e9
		e.minute.xferN++
		e.minute.xferSeconds += secs
		// The first token is the prefill worker's; decoding starts now.
		r.firstToken = r.ready
		ttft := r.ready - r.arrival
		e.h.ttft.observeN(ttft, 1)
		e.minute.ttftSum += ttft
		e.minute.ttftN++
		e.waiting = append(e.waiting, r)
	}
	clear(e.pd.transfers[len(kept):])
	e.pd.transfers = kept
}

// handOff finishes the prefilled requests of a prefill worker (its one
// token generated) and queues their handoffs for the decode workers.
//
//go:norace
func (e *engine) handOff(tf float64) {
	done := false
	for _, r := range e.running {
		if r.prefillLeft == 0 && r.generated >= r.output && r.blocks > 0 {
			e.pd.handoffs = append(e.pd.handoffs, handoff{prompt: r.prompt, output: r.decodeOutput, at: max(r.firstToken, 0)})
			e.finish(r, tf)
			done = true
		}
	}
	if done {
		e.compactRunning()
	}
}

// linkPD points each decode deployment at its prefill deployment.
//
//go:norace
func (c *Cluster) linkPD() {
	for _, d := range c.deps {
		if d.spec.Role != RoleDecode {
			continue
		}
		for _, s := range c.deps {
			if s.spec.Name == d.spec.PrefillFrom {
				d.src = s
			}
		}
	}
}

// collectHandoffs gathers a prefill deployment's handoffs of the tick.
//
//go:norace
func (c *Cluster) collectHandoffs(d *deployment) {
	if d.spec.Role != RolePrefill {
		return
	}
	for _, w := range d.workloads {
		if w.pod == nil {
			continue
		}
		for _, e := range w.pod.engines {
			d.outbox = append(d.outbox, e.pd.handoffs...)
			e.pd.handoffs = e.pd.handoffs[:0]
		}
	}
}

// deliverHandoffs spreads the prefill deployment's handoffs over the
// decode deployment's running engines, round robin; with none running
// they are lost (the router has nowhere to send them).
//
//go:norace
func (c *Cluster) deliverHandoffs(d *deployment, t float64) {
	var engines []*engine
	for _, w := range d.workloads {
		if w.pod != nil && !w.pod.asleep {
			engines = append(engines, w.pod.engines...)
		}
	}
	if len(engines) > 0 {
		for _, h := range d.src.outbox {
			engines[d.rr%len(engines)].receive(h, t)
			d.rr++
		}
	}
	d.src.outbox = d.src.outbox[:0]
}

// sleep applies a sleep or wake event to the deployment's running pods,
// oldest first (Pods of them, default all).
//
//go:norace
func (c *Cluster) sleep(ev Event) {
	n := 0
	for _, p := range c.pods {
		if ev.Pods > 0 && n == ev.Pods {
			break
		}
		if p.phase != phaseRunning || p.dep == nil || p.dep.spec.Name != ev.Deployment || p.asleep == (ev.Kind == EventSleep) {
			continue
		}
		p.asleep = ev.Kind == EventSleep
		for _, e := range p.engines {
			e.asleep = p.asleep
			if p.asleep { // in-flight requests are aborted, the KV cache dropped
				for _, r := range append(e.running, e.waiting...) {
					e.c.success[2]++
					e.free = append(e.free, r)
				}
				clear(e.running)
				clear(e.waiting)
				e.running, e.waiting, e.usedBlocks = e.running[:0], e.waiting[:0], 0
			}
		}
		c.logger.Info("event", "kind", ev.Kind, "pod", p.ns+"/"+p.name)
		n++
	}
}

// sleepPod ticks an asleep pod: its GPUs idle, its engines account the
// time with nothing running.
//
//go:norace
func sleepPod(p *pod, dt float64) {
	for _, g := range p.units {
		g.act = activity{}
	}
	for _, e := range p.engines {
		e.act, e.lastGen = activity{}, 0
		e.minute.seconds += dt
	}
}

// sleepTick ticks the asleep pods of a deployment none of whose pods is
// awake.
//
//go:norace
func (c *Cluster) sleepTick(d *deployment, dt float64) {
	for _, w := range d.workloads {
		if w.pod != nil && w.pod.asleep {
			sleepPod(w.pod, dt)
		}
	}
}

package sim

import "math"

// prefillPending reports whether a running request still has prompt tokens to compute.
//
//go:norace
func (e *engine) prefillPending() bool {
	// Newly admitted requests are at the end: look there first.
	for i := len(e.running) - 1; i >= 0; i-- {
		if e.running[i].prefillLeft > 0 {
			return true
		}
	}
	return false
}

// abortStale drops requests that waited longer than their clients wait.
// The queue is in arrival order (preempted requests go back to its head and
// are older still), so the stale ones are a prefix.
//
//go:norace
func (e *engine) abortStale(t float64) {
	i := 0
	for ; i < len(e.waiting) && t-e.waiting[i].arrival > abortAfter; i++ {
		e.c.success[2]++
		e.abortedGenerated += float64(e.waiting[i].generated)
		e.free = append(e.free, e.waiting[i])
	}
	e.dropWaiting(i)
}

// dropWaiting removes the first n waiting requests, moving the rest to the
// front so that the queue's array is reused rather than regrown.
//
//go:norace
func (e *engine) dropWaiting(n int) {
	if n == 0 {
		return
	}
	k := copy(e.waiting, e.waiting[n:])
	clear(e.waiting[k:])
	e.waiting = e.waiting[:k]
}

// admit moves waiting requests into the batch while max_num_seqs and free
// KV blocks (less vLLM's 1% watermark) allow, in arrival order.
//
//go:norace
func (e *engine) admit(t float64) {
	watermark := e.cfg.blocks / 100
	i := 0
	for ; i < len(e.waiting) && len(e.running) < e.cfg.maxNumSeqs; i++ {
		r := e.waiting[i]
		need := blocksFor(r.prompt + r.generated + 1)
		if e.usedBlocks+need > e.cfg.blocks-watermark {
			break
		}
		r.blocks = need
		e.usedBlocks += need
		if r.scheduled < 0 {
			r.scheduled = max(t, r.arrival)
			e.c.prefixQueries += float64(r.prompt)
		}
		e.running = append(e.running, r)
	}
	e.dropWaiting(i)
}

// roofline returns, for one step with b decoding requests over ctx tokens
// of context and chunk prefill tokens, the bytes read and FLOPs per GPU and
// the kernel time: max(bytes/bandwidth, FLOPs/tensor rate) at achieved rates.
//
//go:norace
func (e *engine) roofline(b, ctx, chunk int) (bytes, flops, kernel float64) {
	cfg := e.cfg
	tp := float64(cfg.tp)
	k := 0.0
	if cfg.spec != nil {
		k = float64(cfg.spec.NumTokens)
	}
	bytes = cfg.model.weightBytes/tp*(1+0.05*k) + float64(ctx)*cfg.model.kvPerToken/tp
	flops = 2 * cfg.model.params / tp * (float64(b)*(1+k) + float64(chunk))
	kernel = max(bytes/(cfg.gpu.bandwidth*achievedShare), flops/(cfg.gpu.flops*achievedShare))
	return bytes, flops, kernel
}

// decoding returns the requests that finished prefill, their context and
// the prompt tokens still to prefill; the slice is reused by the next call.
//
//go:norace
func (e *engine) decoding() (dec []*request, ctx, pending int) {
	dec = e.decBuf[:0]
	for _, r := range e.running {
		if r.prefillLeft == 0 {
			dec = append(dec, r)
			ctx += r.prompt + r.generated
		} else {
			pending += r.prefillLeft
		}
	}
	e.decBuf = dec
	return dec, ctx, pending
}

// prefillPhase runs chunked-prefill steps (decoding requests ride along):
// the full chunks of the pending prompt tokens, or when less than a chunk
// is pending one step of just those, until the time is up. It returns the
// time used, the kernel time, the bytes and the FLOPs.
//
//go:norace
func (e *engine) prefillPhase(start, left float64) (used, kernel, bytes, flops float64) {
	cfg := e.cfg
	dec, ctx, pending := e.decoding()
	k := 0
	if cfg.spec != nil {
		k = cfg.spec.NumTokens
	}
	chunk := cfg.maxBatched - len(dec)*(1+k)
	if chunk <= 0 {
		return 0, 0, 0, 0
	}
	// A step carries at most the pending prompt tokens: a short prompt is
	// a short chunk, and the decoding requests riding along are slowed by
	// that chunk's share of the step, not stalled by a full chunk it never
	// ran. Full chunks run first; the caller runs the remainder as its own,
	// smaller step.
	full := pending / chunk
	if full == 0 {
		chunk, full = pending, 1
	}
	by, fl, kern := e.roofline(len(dec), ctx, chunk)
	stepDur := kern + cfg.cpuOverhead
	steps := min(float64(full), left/stepDur)
	done := pending
	if steps*float64(chunk) < float64(pending) {
		done = int(steps * float64(chunk))
	}
	used = steps * stepDur
	// FCFS over the prefilling requests.
	rem, cum := done, 0
	for _, r := range e.running {
		if rem == 0 {
			break
		}
		if r.prefillLeft == 0 {
			continue
		}
		d := min(r.prefillLeft, rem)
		r.prefillLeft -= d
		rem -= d
		cum += d
		e.c.promptTokens += float64(d)
		if r.prefillLeft == 0 && r.generated == 0 {
			// The first token comes when the FCFS prefill reaches this
			// request, and never before its own prefill and one step
			// after it arrived within the tick.
			own := float64(r.prompt) * 2 * cfg.model.params / float64(cfg.tp) / (cfg.gpu.flops * achievedShare)
			r.firstToken = max(start+used*float64(cum)/float64(max(done, 1)), r.arrival+own+stepDur)
			r.generated = 1
			e.c.generationTokens++
			ttft := r.firstToken - r.arrival
			e.h.ttft.observeN(ttft, 1)
			if cfg.gw != nil {
				cfg.gw.ttft.observeN(r.firstToken-r.gwArrival, 1)
			}
			e.minute.ttftSum += ttft
			e.minute.ttftN++
		}
	}
	e.h.iterTok.observeN(float64(len(dec)*(1+k)+chunk), uint64(steps))
	e.c.iterations += steps
	e.c.promptSeconds += used
	kernel = steps * kern
	bytes = steps * by
	flops = steps*(fl-2*cfg.model.params/float64(cfg.tp)*float64(chunk)) + float64(done)*2*cfg.model.params/float64(cfg.tp)
	if len(dec) > 0 {
		e.advance(dec, steps, stepDur, start)
	}
	return used, kernel, bytes, flops
}

// decodePhase runs decode steps for the rest of the tick, or until every
// request in the batch is done.
//
//go:norace
func (e *engine) decodePhase(start, left float64) (kernel, bytes, flops float64) {
	dec, ctx, _ := e.decoding()
	if len(dec) == 0 {
		return 0, 0, 0
	}
	by, fl, kern := e.roofline(len(dec), ctx, 0)
	stepDur := kern + e.cfg.cpuOverhead
	ran := e.advance(dec, left/stepDur, stepDur, start)
	k := 0
	if e.cfg.spec != nil {
		k = e.cfg.spec.NumTokens
	}
	e.h.iterTok.observeN(float64(len(dec)*(1+k)), uint64(ran))
	e.c.iterations += ran
	e.c.decodeSeconds += ran * stepDur
	return ran * kern, ran * by, ran * fl
}

// advance runs steps (fractional; the remainder carries to the next call)
// over the decoding requests dec: each step emits one token per request, or
// 1 + accepted draft tokens with speculative decoding. It grows the KV
// cache, preempts the newest requests when blocks run out, finishes
// requests, and returns the number of steps that did work.
//
//go:norace
func (e *engine) advance(dec []*request, steps, stepDur, start float64) float64 {
	e.stepCarry += steps
	k := int(e.stepCarry)
	e.stepCarry -= float64(k)
	if k == 0 {
		return 0
	}
	sd := e.cfg.spec
	if cap(e.tokBuf) < 2*len(dec) {
		e.tokBuf = make([]int, 2*len(dec))
	}
	tok, drafts := e.tokBuf[:len(dec)], e.tokBuf[len(dec):2*len(dec)]
	need := 0
	for i, r := range dec {
		remaining := r.output - r.generated
		if sd == nil {
			tok[i] = min(remaining, k)
			drafts[i] = tok[i]
		} else {
			perDraft := 1 + acceptedPerDraft(sd)
			drafts[i] = min(k, int(math.Ceil(float64(remaining)/perDraft)))
			exp := float64(drafts[i]) * acceptedPerDraft(sd)
			acc := int(math.Round(exp + math.Sqrt(exp*(1-sd.Acceptance))*e.rng.NormFloat64()))
			acc = max(0, min(acc, drafts[i]*sd.NumTokens))
			tok[i] = min(remaining, drafts[i]+acc)
		}
		need += max(0, blocksFor(r.prompt+r.generated+tok[i])-r.blocks)
	}
	for need > e.cfg.blocks-e.usedBlocks && len(e.running) > 0 {
		need -= e.preemptNewest(dec, tok, need)
	}
	ran, finished := 0, false
	itl := uint64(0)
	for i, r := range dec {
		if r.blocks == 0 || tok[i] == 0 { // preempted or nothing to do
			continue
		}
		nb := blocksFor(r.prompt + r.generated + tok[i])
		e.usedBlocks += nb - r.blocks
		r.blocks = nb
		r.generated += tok[i]
		e.c.generationTokens += float64(tok[i])
		itl += uint64(drafts[i])
		ran = max(ran, drafts[i])
		if sd != nil {
			e.c.drafts += float64(drafts[i])
			e.c.draftTokens += float64(drafts[i] * sd.NumTokens)
			e.c.acceptedSpec += float64(tok[i] - drafts[i])
			e.minute.drafts += float64(drafts[i] * sd.NumTokens)
			e.minute.accepted += float64(tok[i] - drafts[i])
		}
		if r.generated >= r.output {
			e.finish(r, start+float64(drafts[i])*stepDur)
			finished = true
		}
	}
	e.h.itl.observeN(stepDur, itl)
	if e.cfg.gw != nil {
		e.cfg.gw.itl.observeN(stepDur, itl)
	}
	if finished {
		e.compactRunning()
	}
	return float64(ran)
}

// preemptNewest preempts the newest running request (recompute mode: its
// blocks are freed and it goes back to the head of the queue) and returns
// how many blocks of growth it no longer needs.
//
//go:norace
func (e *engine) preemptNewest(dec []*request, tok []int, need int) int {
	r := e.running[len(e.running)-1]
	e.running = e.running[:len(e.running)-1]
	if need <= e.cfg.blocks-e.usedBlocks {
		e.preemptNoPressure++
	}
	saved := 0
	for i, d := range dec {
		if d == r {
			saved = max(0, blocksFor(r.prompt+r.generated+tok[i])-r.blocks)
			tok[i] = 0
		}
	}
	e.usedBlocks -= r.blocks
	r.blocks = 0
	r.prefillLeft = r.prompt + r.generated
	r.preemptions++
	e.c.preemptions++
	e.minute.preemptions++
	e.requeueFront(r)
	return saved
}

// finish records a completed request and frees its blocks.
//
//go:norace
func (e *engine) finish(r *request, tf float64) {
	tf = max(tf, r.firstToken)
	e.usedBlocks -= r.blocks
	r.blocks = -1 // marks it for compactRunning
	h := &e.h
	h.e2e.observeN(tf-r.arrival, 1)
	h.queue.observeN(r.scheduled-r.arrival, 1)
	h.prefill.observeN(r.firstToken-r.scheduled, 1)
	h.decode.observeN(tf-r.firstToken, 1)
	h.inference.observeN(tf-r.scheduled, 1)
	if r.generated > 1 {
		h.tpot.observeN((tf-r.firstToken)/float64(r.generated-1), 1)
	}
	h.promptTok.observeN(float64(r.prompt), 1)
	gen := float64(r.generated)
	i := h.genTok.bucket(gen) // maxGenTok has the same buckets
	h.genTok.add(i, gen, 1)
	h.maxGenTok.add(i, gen, 1)
	if r.maxTokens > 0 {
		h.maxTokens.observeN(float64(r.maxTokens), 1)
	}
	h.paramsN.observeN(1, 1)
	h.preempt.observeN(float64(r.preemptions), 1)
	if r.byLength {
		e.c.success[1]++
	} else {
		e.c.success[0]++
	}
	e.finishedOutput += float64(r.output)
}

// compactRunning drops finished requests from the batch (preempted ones
// already went back to the queue) and keeps them for reuse.
//
//go:norace
func (e *engine) compactRunning() {
	kept := e.running[:0]
	for _, r := range e.running {
		if r.blocks > 0 {
			kept = append(kept, r)
		} else {
			e.free = append(e.free, r)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept
}

// requeueFront puts a preempted request back at the head of the queue.
//
//go:norace
func (e *engine) requeueFront(r *request) {
	e.waiting = append(e.waiting, nil)
	copy(e.waiting[1:], e.waiting)
	e.waiting[0] = r
}

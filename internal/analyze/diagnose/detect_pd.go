package diagnose

import (
	"fmt"
	"math"
)

// detectEngineAsleep: the engine is in sleep mode (vLLM's weights
// offloaded or discarded) over the last minute while its pod holds GPUs. It serves nothing, so
// its GPUs count as idle capacity.
func detectEngineAsleep(v *podView, _ *Snapshot) *Finding {
	th := v.th
	asleep := func(i int) bool { return v.p.Asleep.at(i) >= th.AsleepRatio }
	// Sleep mode is a state the engine reports, not a noisy level: asleep
	// over the last minute is asleep now, and the sustain period does not
	// apply.
	for i := max(0, v.n-v.minute); i < v.n; i++ {
		if !asleep(i) {
			return nil
		}
	}
	_, since := v.sustained(asleep)
	f := v.finding(StateEngineAsleep, SeverityWarning, v.confidenceBase*v.coverage(v.p.Asleep), since,
		fmt.Sprintf("The engine is asleep (sleep mode) while the pod holds %d GPU(s): they serve nothing and count as idle.", len(v.gpus)),
		"Release the GPUs (scale the deployment down or to zero) if the model is not needed soon; otherwise wake the engine (POST /wake_up) and route traffic to it.",
		v.ev(sigAsleep, "mean", v.p.Asleep), v.ev(sigBusy, "mean", v.busy), v.ev(sigRunning, "max", v.p.Running))
	f.GPUs = -len(v.gpus)
	return &f
}

// detectKVTransferBound: a disaggregated worker waits on KV transfers:
// requests wait for their KV while transfers are slow, or transfers fail
// or expire (the prefill worker's lease ran out before the decode worker
// read the KV).
func detectKVTransferBound(v *podView, _ *Snapshot) *Finding {
	th, p := v.th, v.p
	if p.KVTransferLatency == nil && p.KVTransferFailures == nil {
		return nil
	}
	slowLimit := th.KVTransferLatency.Seconds()
	waitingKV := func(i int) float64 {
		if x := p.KVTransferWaiting.at(i); reported(x) {
			return x
		}
		// vLLM without waiting_by_reason: requests waiting for remote KV
		// are among the waiting ones.
		return p.Waiting.at(i)
	}
	slow := func(i int) bool {
		return p.KVTransferLatency.at(i) >= slowLimit && waitingKV(i) >= th.KVTransferWaiting
	}
	failing := func(i int) bool { return p.KVTransferFailures.at(i) >= th.KVTransferFailures }
	share, since := v.sustained(func(i int) bool { return slow(i) || failing(i) })
	if share < th.SustainShare {
		return nil
	}
	lat := p.KVTransferLatency.stats(v.from, v.n).mean
	fail := p.KVTransferFailures.stats(v.from, v.n).mean
	var why string
	switch fs, _ := v.sustained(failing); {
	case fs >= th.SustainShare && reported(lat) && lat >= slowLimit:
		why = fmt.Sprintf("KV transfers take %.2f s on average and %.3f/s fail or expire", lat, fail)
	case fs >= th.SustainShare:
		why = fmt.Sprintf("%.3f KV transfers/s fail or expire", fail)
	default:
		why = fmt.Sprintf("requests wait for their KV while transfers take %.2f s on average", lat)
	}
	role := p.Role
	if role == "" {
		role = "disaggregated"
	}
	ev := []Evidence{v.ev(sigKVLatency, "mean", p.KVTransferLatency), v.ev(sigKVFailures, "mean", p.KVTransferFailures)}
	if p.KVTransferWaiting != nil {
		ev = append(ev, v.ev(sigKVQueue, "mean", p.KVTransferWaiting))
	} else {
		ev = append(ev, v.ev(sigWaiting, "mean", p.Waiting))
	}
	ev = append(ev, v.ev(sigBusy, "mean", v.busy))
	f := v.finding(StateKVTransferBound, SeverityWarning, v.confidenceBase*v.coverage(p.KVTransferLatency), since,
		fmt.Sprintf("This %s worker is bound by KV transfer, not compute: %s.", role, why),
		"Check the transfer path between prefill and decode workers (RDMA/NVLink rather than TCP, NIXL/UCX or Mooncake backend and its logs), place the pools in one transfer domain, and raise the prefill side's KV lease (vLLM kv_lease_duration) if transfers expire; more GPUs will not help.",
		ev...)
	return &f
}

// pdPool is one role's pods of a model (in one cluster and namespace).
type pdPool struct {
	pods []*Pod
	gpus []*GPU
}

// pdPools returns the pod's own pool and the other role's pool of its
// model, or false when the pod has no prefill/decode role or the other
// pool is absent.
func pdPools(s *Snapshot, p *Pod) (own, other pdPool, ok bool) {
	var want string
	switch p.Role {
	case rolePrefill:
		want = roleDecode
	case roleDecode:
		want = rolePrefill
	default:
		return own, other, false
	}
	for i := range s.Pods {
		q := &s.Pods[i]
		if q.Cluster != p.Cluster || q.Namespace != p.Namespace || q.Model != p.Model {
			continue
		}
		var pool *pdPool
		switch q.Role {
		case p.Role:
			pool = &own
		case want:
			pool = &other
		default:
			continue
		}
		pool.pods = append(pool.pods, q)
		for _, gi := range q.GPUs {
			pool.gpus = append(pool.gpus, &s.GPUs[gi])
		}
	}
	return own, other, len(other.pods) > 0 && len(own.pods) > 0
}

// at returns the pool's mean GPU busy and mean waiting requests per pod
// at step i (NaN when unreported).
func (pl pdPool) at(i int) (busy, waiting float64) {
	busy = meanAt(pl.gpus, i, func(g *GPU) Track { return g.Busy })
	var sum float64
	n := 0
	for _, q := range pl.pods {
		if x := q.queued(i); reported(x) {
			sum += x
			n++
		}
	}
	waiting = math.NaN()
	if n > 0 {
		waiting = sum / float64(len(pl.pods))
	}
	return busy, waiting
}

// queues: the pool is busy and requests wait on it.
func (pl pdPool) queues(i int, th Thresholds) bool {
	b, w := pl.at(i)
	return b >= th.BacklogBusy && w >= th.BacklogWaiting
}

// idles: the pool is little used and nothing waits on it.
func (pl pdPool) idles(i int, th Thresholds) bool {
	b, w := pl.at(i)
	return reported(b) && b < th.PDIdleBusy && !(w >= th.BacklogWaiting)
}

// detectPDImbalance: of a disaggregated model's prefill and decode pools,
// one queues on busy GPUs while the other idles. Both pools' pods carry
// the finding, with advice on the ratio.
func detectPDImbalance(v *podView, s *Snapshot) *Finding {
	th, p := v.th, v.p
	own, other, ok := pdPools(s, p)
	if !ok {
		return nil
	}
	cond := func(i int) bool {
		return (own.queues(i, th) && other.idles(i, th)) || (own.idles(i, th) && other.queues(i, th))
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	mean := func(pl pdPool) (busy, waiting float64) {
		var bs, ws float64
		nb, nw := 0, 0
		for i := v.from; i < v.n; i++ {
			b, w := pl.at(i)
			if reported(b) {
				bs += b
				nb++
			}
			if reported(w) {
				ws += w
				nw++
			}
		}
		return bs / float64(max(1, nb)), ws / float64(max(1, nw))
	}
	ob, ow := mean(own)
	xb, xw := mean(other)
	hotPool, coldPool, hotBusy, coldBusy, hotWait := own, other, ob, xb, ow
	if ow < xw || (ow == xw && ob < xb) {
		hotPool, coldPool, hotBusy, coldBusy, hotWait = other, own, xb, ob, xw
	}
	hot, cold := hotPool.pods[0].Role, coldPool.pods[0].Role
	hg, cg := len(hotPool.gpus), len(coldPool.gpus)
	// The queueing pool needs at least its load at the target busy plus
	// one GPU (a queue's length is not a rate); the idle pool keeps its
	// load at the target busy, at least one GPU.
	needHot := max(hg+1, int(math.Ceil(float64(hg)*hotBusy/th.TargetBusy)))
	needCold := max(1, int(math.Ceil(float64(cg)*coldBusy/th.TargetBusy)))
	move := min(needHot-hg, cg-needCold)
	action := fmt.Sprintf("Rebalance the prefill:decode ratio toward the %s pool: %s %d GPU(s) on %d pod(s) are %.0f%% busy with %.1f requests waiting per pod; %s %d GPU(s) on %d pod(s) are %.0f%% busy. ",
		hot, hot, hg, len(hotPool.pods), hotBusy*100, hotWait, cold, cg, len(coldPool.pods), coldBusy*100)
	if move > 0 {
		action += fmt.Sprintf("Move %d GPU(s) from %s to %s (%s:%s from %d:%d to %d:%d), then re-measure.", move, cold, hot, hot, cold, hg, cg, hg+move, cg-move)
	} else {
		action += fmt.Sprintf("Add %d GPU(s) to %s; %s has none to spare at %.0f%% target busy.", needHot-hg, hot, cold, th.TargetBusy*100)
	}
	f := v.finding(StatePDImbalance, SeverityWarning, v.confidenceBase*v.coverage(v.busy, p.Waiting), since,
		fmt.Sprintf("Prefill/decode imbalance: the %s pool queues while the %s pool idles; this pod is %s.", hot, cold, p.Role),
		action,
		evidence(sigBusy, "mean "+hot+" pool", hotBusy, v.queries[sigBusy]),
		evidence(sigWaiting, "mean per "+hot+" pod", hotWait, v.queries[sigWaiting]),
		evidence(sigBusy, "mean "+cold+" pool", coldBusy, v.queries[sigBusy]))
	return &f
}

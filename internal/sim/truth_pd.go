package sim

// The truth of disaggregation, from the signatures of the states (the
// limits are the diagnosis defaults: the truth is what a careful reader of
// the real counters would conclude).
const (
	transferSlowSeconds = 0.5  // mean KV transfer time
	transferWaitingMin  = 1    // requests waiting for their KV
	transferFailuresMin = 0.01 // failed transfers per second
	poolQueueBusy       = 0.5  // a pool queues: busy at least this …
	poolQueueWaiting    = 1    // … and this many requests waiting per pod
	poolIdleBusy        = 0.3  // a pool idles: busy below this, nothing waiting
)

// transferBound: requests wait for KV that is slow to come, or transfers
// fail.
func transferBound(m PodMinute) bool {
	return m.TransferFailures >= transferFailuresMin ||
		(m.TransferLatency >= transferSlowSeconds && m.TransferWaiting >= transferWaitingMin)
}

// pdPool is one role's pods of a model in one namespace over a minute.
type pdPool struct {
	pods          []*pod
	busy, waiting float64 // sums over the pods
}

func (pl *pdPool) queues() bool {
	n := float64(len(pl.pods))
	return pl.busy/n >= poolQueueBusy && pl.waiting/n >= poolQueueWaiting
}

func (pl *pdPool) idles() bool {
	n := float64(len(pl.pods))
	return pl.busy/n < poolIdleBusy && pl.waiting/n < poolQueueWaiting
}

// pdImbalanced returns the pods of prefill and decode pools one of which
// queues while the other (same model and namespace) idles over the minute.
func pdImbalanced(minutes map[*pod]PodMinute) map[*pod]bool {
	type key struct{ ns, model, role string }
	pools := map[key]*pdPool{}
	for p, m := range minutes {
		if m.Role != RolePrefill && m.Role != RoleDecode {
			continue
		}
		k := key{p.ns, p.dep.spec.Model, m.Role}
		pl := pools[k]
		if pl == nil {
			pl = &pdPool{}
			pools[k] = pl
		}
		pl.pods = append(pl.pods, p)
		pl.busy += m.Busy
		// Requests waiting for their KV wait on the transfer, not on
		// the pool's compute: they are not the pool's queue.
		pl.waiting += m.Waiting
	}
	out := map[*pod]bool{}
	for k, pre := range pools {
		if k.role != RolePrefill {
			continue
		}
		dec := pools[key{k.ns, k.model, RoleDecode}]
		if dec == nil || !((pre.queues() && dec.idles()) || (pre.idles() && dec.queues())) {
			continue
		}
		for _, p := range append(append([]*pod{}, pre.pods...), dec.pods...) {
			out[p] = true
		}
	}
	return out
}

package diagnose

import (
	"github.com/prometheus/common/model"
)

// Signals of prefill/decode disaggregation and sleep mode, as evidence
// names them.
const (
	sigRole       = "pod_role"
	sigAsleep     = "engine_asleep_ratio"
	sigKVLatency  = "kv_transfer_latency_seconds"
	sigKVFailures = "kv_transfer_failures_per_second"
	sigKVExpired  = "kv_expired_requests_per_second"
	sigKVQueue    = "kv_transfer_queue_requests"
	sigWaitReason = "requests_waiting_by_reason"
)

// Roles of a disaggregated deployment's workers (pod_role values).
const (
	rolePrefill = "prefill"
	roleDecode  = "decode"
)

// decodeQueues are SGLang's queues of requests a decode worker holds
// while their KV is allocated for and transferred.
var decodeQueues = map[model.LabelValue]bool{"decode_prealloc": true, "decode_transfer": true}

// snapshotPD reads the disaggregation and sleep signals into the pods'
// tracks and returns each pod's role keyed by cluster, namespace and pod
// (the role may come from kube-state-metrics, whose instance is not the
// pod's). A pod with two roles keeps prefill or decode over a worker that
// does both.
func (d *Diagnoser) snapshotPD(get func(string) (model.Matrix, error), pod func(model.Metric) *Pod, w Window, n int) (map[string]string, error) {
	roles := map[string]string{}
	m, err := get(sigRole)
	if err != nil {
		return nil, err
	}
	for _, ss := range m {
		if ss.Metric["pod"] == "" || len(ss.Values) == 0 {
			continue
		}
		k := string(ss.Metric[d.cluster]) + "\xff" + string(ss.Metric["namespace"]) + "\xff" + string(ss.Metric["pod"])
		r := string(ss.Metric["role"])
		if old := roles[k]; old == rolePrefill || old == roleDecode {
			continue
		}
		roles[k] = r
	}
	tracks := []struct {
		name string
		sum  bool
		keep func(model.Metric) bool
		dst  func(*Pod) *Track
	}{
		{sigAsleep, false, nil, func(p *Pod) *Track { return &p.Asleep }},
		{sigKVLatency, false, nil, func(p *Pod) *Track { return &p.KVTransferLatency }},
		{sigKVFailures, true, nil, func(p *Pod) *Track { return &p.KVTransferFailures }},
		{sigKVExpired, true, nil, func(p *Pod) *Track { return &p.KVTransferFailures }},
		{sigKVQueue, true, func(m model.Metric) bool { return decodeQueues[m["queue"]] }, func(p *Pod) *Track { return &p.KVTransferWaiting }},
		// vLLM counts requests waiting for remote KV as deferred.
		{sigWaitReason, true, func(m model.Metric) bool { return m["reason"] == "deferred" }, func(p *Pod) *Track { return &p.KVTransferWaiting }},
	}
	for _, tr := range tracks {
		m, err := get(tr.name)
		if err != nil {
			return nil, err
		}
		for _, ss := range m {
			if ss.Metric["pod"] == "" || (tr.keep != nil && !tr.keep(ss.Metric)) {
				continue
			}
			t := tr.dst(pod(ss.Metric))
			if *t == nil {
				*t = newTrack(n)
			}
			fill(*t, w, ss.Values, tr.sum)
		}
	}
	return roles, nil
}

// queued is the requests waiting for the engine's compute at step i (NaN
// when unreported): vLLM counts requests waiting for remote KV among its
// waiting ones (reason deferred); they wait on a transfer, not on
// compute, and are no unmet demand. SGLang keeps them in its transfer
// queues, apart from num_queue_reqs.
func (p *Pod) queued(i int) float64 {
	w := p.Waiting.at(i)
	if k := p.KVTransferWaiting.at(i); p.Engine == "vllm" && reported(w) && reported(k) {
		w = max(0, w-k)
	}
	return w
}

package sim

import (
	"fmt"
	"math"
	"time"
)

// Roles of a disaggregated deployment's workers.
const (
	RolePrefill = "prefill"
	RoleDecode  = "decode"
)

// Event kinds of vLLM's sleep mode: the selected pods' engines go to sleep
// (weights offloaded, KV cache dropped) and hold their GPUs serving nothing,
// or wake up.
const (
	EventSleep = "sleep"
	EventWake  = "wake"
)

// KVTransfer is how a decode deployment receives the KV cache its prefill
// workers computed: a fixed latency per transfer (handshake, bootstrap,
// allocation) plus the KV's bytes over the link's bandwidth; FailureRate
// of the transfers fail and their requests are aborted.
type KVTransfer struct {
	Latency       Duration `yaml:"latency"`
	BandwidthGBps float64  `yaml:"bandwidth_gbps"`
	FailureRate   float64  `yaml:"failure_rate"`
}

// podEvent reports whether an event kind selects pods rather than nodes.
func podEvent(kind string) bool {
	return kind == EventRelabel || kind == EventSleep || kind == EventWake
}

// defaultsPD gives a decode deployment the default transfer: 20 ms and
// 25 GB/s (an RDMA link).
func (s *Scenario) defaultsPD() {
	for i := range s.Deployments {
		d := &s.Deployments[i]
		if d.Role != RoleDecode {
			continue
		}
		if d.KVTransfer == nil {
			d.KVTransfer = &KVTransfer{}
		}
		if d.KVTransfer.Latency == 0 {
			d.KVTransfer.Latency = Duration(20 * time.Millisecond)
		}
		if d.KVTransfer.BandwidthGBps == 0 {
			d.KVTransfer.BandwidthGBps = 25
		}
	}
}

// validatePD checks a deployment's role: prefill or decode on vLLM (V1)
// or SGLang; a decode deployment names a prefill deployment of the same
// model and engine; only decode deployments take prefill_from and
// kv_transfer.
func (s *Scenario) validatePD(i int, d Deployment) ([]any, string) {
	at := func(k ...any) []any { return append([]any{"deployments", i}, k...) }
	switch d.Role {
	case "":
		switch {
		case d.PrefillFrom != "":
			return at("prefill_from"), "prefill_from applies to role: decode"
		case d.KVTransfer != nil:
			return at("kv_transfer"), "kv_transfer applies to role: decode"
		}
		return nil, ""
	case RolePrefill, RoleDecode:
	default:
		return at("role"), fmt.Sprintf("unknown role %q (prefill, decode, or none for a unified worker)", d.Role)
	}
	if d.Engine != EngineVLLM && d.Engine != EngineSGLang {
		return at("engine"), fmt.Sprintf("role %s needs engine vllm (NIXL connector) or sglang, got %q", d.Role, d.Engine)
	}
	if d.Role == RolePrefill {
		switch {
		case d.PrefillFrom != "":
			return at("prefill_from"), "prefill_from applies to role: decode"
		case d.KVTransfer != nil:
			return at("kv_transfer"), "kv_transfer applies to role: decode"
		}
		return nil, ""
	}
	var src *Deployment
	for j := range s.Deployments {
		if s.Deployments[j].Name == d.PrefillFrom {
			src = &s.Deployments[j]
		}
	}
	switch {
	case d.PrefillFrom == "":
		return at(), fmt.Sprintf("decode deployment %q needs prefill_from, its prefill deployment", d.Name)
	case src == nil:
		return at("prefill_from"), fmt.Sprintf("unknown deployment %q", d.PrefillFrom)
	case src.Role != RolePrefill:
		return at("prefill_from"), fmt.Sprintf("deployment %q is not role: prefill", d.PrefillFrom)
	case src.Model != d.Model || src.Engine != d.Engine || src.Team != d.Team:
		return at("prefill_from"), fmt.Sprintf("deployment %q serves another model, engine or team", d.PrefillFrom)
	case d.Load.Rate != 0:
		return at("load", "rate"), "a decode deployment's requests come from its prefill deployment: load.rate must be 0"
	}
	if kv := d.KVTransfer; kv != nil {
		switch {
		case kv.Latency < 0:
			return at("kv_transfer", "latency"), "latency must not be negative"
		case !(kv.BandwidthGBps > 0) || math.IsInf(kv.BandwidthGBps, 0):
			return at("kv_transfer", "bandwidth_gbps"), fmt.Sprintf("bandwidth_gbps must be positive, got %g", kv.BandwidthGBps)
		case !(kv.FailureRate >= 0 && kv.FailureRate < 1):
			return at("kv_transfer", "failure_rate"), fmt.Sprintf("failure_rate must be in [0, 1), got %g", kv.FailureRate)
		}
	}
	return nil, ""
}

// validateSleep checks a sleep or wake event: a vLLM deployment, none of
// the node or relabel fields.
func (s *Scenario) validateSleep(e Event, i int) ([]any, string) {
	at := func(k string) []any { return []any{"events", i, k} }
	var dep *Deployment
	for j := range s.Deployments {
		if s.Deployments[j].Name == e.Deployment {
			dep = &s.Deployments[j]
		}
	}
	switch {
	case e.Deployment == "":
		return []any{"events", i}, e.Kind + " needs deployment"
	case dep == nil:
		return at("deployment"), fmt.Sprintf("%s: unknown deployment %q", e.Kind, e.Deployment)
	case dep.Engine != EngineVLLM && dep.Engine != EngineVLLM010:
		return at("deployment"), fmt.Sprintf("%s: sleep mode is vLLM's (engine vllm), deployment %q runs %s", e.Kind, e.Deployment, dep.Engine)
	case e.Job != "":
		return at("job"), fmt.Sprintf("job applies to relabel events, not %s", e.Kind)
	case e.Pods < 0:
		return at("pods"), fmt.Sprintf("pods must not be negative, got %d", e.Pods)
	case e.Label != "" || e.Value != "":
		return at("label"), fmt.Sprintf("label and value apply to relabel events, not %s", e.Kind)
	case e.Node != 0 || e.GPU != 0:
		return at("node"), fmt.Sprintf("node and gpu apply to node events, not %s", e.Kind)
	}
	return nil, ""
}

package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// pdPanels are the Serving page's disaggregation panels: the prefill and
// decode pools side by side, the KV transfer between them, and engines
// asleep. A fleet without roles or connectors shows them without data.
func pdPanels() []panel {
	return []panel{
		{ID: "pd-pools", Title: "Prefill and decode pools", Help: "per model and role (pod_role): means over the range; TTFT and ITL are the mean of the pods' p95", build: pdPools},
		{ID: "kv-transfer-latency", Title: "KV transfer time", Help: "mean time of one KV transfer between prefill and decode workers, per pod", build: lines("kv_transfer_latency_seconds", 0, "seconds")},
		{ID: "kv-transfer-failures", Title: "KV transfers failed/s", Help: "per pod; expired KV (the prefill side's lease ran out) in the next panel", build: lines("kv_transfer_failures_per_second", 0, "1/s")},
		{ID: "kv-expired", Title: "KV expired requests/s", Help: "on prefill workers", build: lines("kv_expired_requests_per_second", 0, "1/s")},
		{ID: "engine-asleep", Title: "Engines asleep", Help: "share of each pod's engines in sleep mode: they hold GPUs and serve nothing", build: lines("engine_asleep_ratio", 0, "ratio")},
	}
}

// quantileMean is a histogram signal's quantile per series averaged over
// the page's range.
func (e *env) quantileMean(ctx context.Context, name string, q float64) (model.Vector, string, error) {
	pq, err := e.signalQuery(name, q)
	if err != nil {
		return nil, "", err
	}
	if pq, err = e.h.opts.Catalog.AvgOverTime(pq, e.end.Sub(e.start), e.step); err != nil {
		return nil, "", err
	}
	v, err := e.instantOf(ctx, pq)
	if err != nil {
		return nil, pq, fmt.Errorf("signal %s p%g: %w", name, q*100, err)
	}
	return v, pq, nil
}

// pdPool is one model's pods of one role in one namespace.
type pdPool struct {
	namespace, model, role string
	pods                   map[string]bool
	busy                   []float64
	ttft, itl              []float64
	// Sums over the pods; nil when no pod reports the signal (not 0).
	running, waiting, prompt, gen []float64
}

// pdPools is the table of prefill and decode pools side by side: pods,
// GPU busy, requests running and waiting, tokens/s, TTFT and ITL.
func pdPools(ctx context.Context, e *env, v *panelView) error {
	roles, pq, err := e.signalMean(ctx, "pod_role")
	v.Queries = append(v.Queries, pq)
	if err != nil || len(roles) == 0 {
		return err
	}
	role := map[string]string{} // namespace/pod → role
	for _, s := range roles {
		role[string(s.Metric["namespace"])+"/"+string(s.Metric["pod"])] = string(s.Metric["role"])
	}
	pools := map[string]*pdPool{}
	podModel := map[string]string{}
	pool := func(m model.Metric) *pdPool {
		k := string(m["namespace"]) + "/" + string(m["pod"])
		r, ok := role[k]
		if !ok {
			return nil
		}
		mn := string(m["model_name"])
		if mn == "" {
			mn = podModel[k]
		}
		if mn == "" {
			return nil
		}
		podModel[k] = mn
		key := string(m["namespace"]) + "\xff" + mn + "\xff" + r
		p := pools[key]
		if p == nil {
			p = &pdPool{namespace: string(m["namespace"]), model: mn, role: r, pods: map[string]bool{}}
			pools[key] = p
		}
		p.pods[k] = true
		return p
	}
	// requests_running first: it names each pod's model.
	for _, c := range []struct {
		sig string
		dst func(*pdPool) *[]float64
	}{
		{"requests_running", func(p *pdPool) *[]float64 { return &p.running }},
		{"requests_waiting", func(p *pdPool) *[]float64 { return &p.waiting }},
		{"prompt_tokens_per_second", func(p *pdPool) *[]float64 { return &p.prompt }},
		{"generation_tokens_per_second", func(p *pdPool) *[]float64 { return &p.gen }},
	} {
		vec, pq, err := e.signalMean(ctx, c.sig)
		v.Queries = append(v.Queries, pq)
		if err != nil {
			return err
		}
		for _, s := range vec {
			if p := pool(s.Metric); p != nil {
				*c.dst(p) = append(*c.dst(p), float64(s.Value))
			}
		}
	}
	for _, c := range []struct {
		sig string
		dst func(*pdPool) *[]float64
	}{
		{"ttft_seconds", func(p *pdPool) *[]float64 { return &p.ttft }},
		{"inter_token_latency_seconds", func(p *pdPool) *[]float64 { return &p.itl }},
	} {
		vec, pq, err := e.quantileMean(ctx, c.sig, 0.95)
		v.Queries = append(v.Queries, pq)
		if err != nil {
			return err
		}
		for _, s := range vec {
			if p := pool(s.Metric); p != nil {
				*c.dst(p) = append(*c.dst(p), float64(s.Value))
			}
		}
	}
	busy, pq, err := e.signalMean(ctx, "gpu_busy_ratio")
	v.Queries = append(v.Queries, pq)
	if err != nil {
		return err
	}
	for _, s := range busy {
		k := e.gpuPod(ctx, s.Metric) // namespace/pod holding the GPU (gpu_pod)
		if mn := podModel[k]; mn != "" {
			ns := k[:strings.IndexByte(k, '/')]
			if p := pools[ns+"\xff"+mn+"\xff"+role[k]]; p != nil {
				p.busy = append(p.busy, float64(s.Value))
			}
		}
	}
	if len(pools) == 0 {
		return nil
	}
	list := make([]*pdPool, 0, len(pools))
	for _, p := range pools {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b *pdPool) int {
		return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.model, b.model), cmp.Compare(a.role, b.role))
	})
	t := &table{Head: []string{"namespace", "model", "role", "pods", "GPU busy", "running", "waiting", "prompt tokens/s", "generation tokens/s", "TTFT p95", "ITL p95"}}
	for _, p := range list {
		t.Rows = append(t.Rows, []string{p.namespace, p.model, p.role, strconv.Itoa(len(p.pods)),
			meanOrNone(p.busy, "ratio"), sumOrNone(p.running, "requests"), sumOrNone(p.waiting, "requests"),
			sumOrNone(p.prompt, "tokens/s"), sumOrNone(p.gen, "tokens/s"), meanOrNone(p.ttft, "seconds"), meanOrNone(p.itl, "seconds")})
	}
	v.Table = t
	return nil
}

// sumOrNone formats the sum of xs, or "not reported" without any.
func sumOrNone(xs []float64, unit string) string {
	if len(xs) == 0 {
		return "not reported"
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return formatValue(s, unit)
}

// meanOrNone formats the mean of xs, or "not reported" without any.
func meanOrNone(xs []float64, unit string) string {
	if len(xs) == 0 {
		return "not reported"
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return formatValue(s/float64(len(xs)), unit)
}

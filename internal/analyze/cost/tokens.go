package cost

import (
	"cmp"
	"math"
	"slices"
)

// Cost per million tokens: the money of the GPU-hours a served model's
// pods held (allocated, the hours their GPUs sat idle included: that is
// what the tokens cost) over the tokens the pods' engines counted, from
// the same integration and price book as the allocations. Used-only is the
// same over the used (busy) hours alone. Tokens come from the catalog's
// token rates of every engine, integrated on the set's grid as GPU-hours
// are; a pod whose engine exports no token counter is "not reported"
// (nil), never 0, and its cost is left out of the per-token figures (it
// is counted in Cost, and PodsWithoutTokens says how many there were).

// TokenCosts is one set's cost per million tokens: the finest rows (served
// model × GPU model × team × namespace × cluster) and the groupings a
// person reads, each computed from the rows by one function (groupTokens).
type TokenCosts struct {
	Rows        []TokenCost `json:"rows"`
	ByModel     []TokenCost `json:"byModel"`
	ByModelGPU  []TokenCost `json:"byModelGpu"`
	ByTeam      []TokenCost `json:"byTeam"`
	ByNamespace []TokenCost `json:"byNamespace"`
	ByGPUModel  []TokenCost `json:"byGpuModel"`
	ByCluster   []TokenCost `json:"byCluster,omitempty"`
	Totals      TokenCost   `json:"totals"`
}

// TokenCost is one group's tokens and their cost. Token counts and
// per-million figures are nil when no pod of the group reports them (not
// reported), and per-million figures are nil with zero tokens.
type TokenCost struct {
	// Name is the group's value (a model, team, namespace, GPU model or
	// cluster; "model / GPU model" in ByModelGPU); the rows leave it empty.
	Name      string `json:"name,omitempty"`
	Model     string `json:"model,omitempty"`
	GPUModel  string `json:"gpuModel,omitempty"`
	Team      string `json:"team,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
	// AllocatedGPUHours and UsedGPUHours are the serving pods' GPU-hours.
	AllocatedGPUHours float64 `json:"allocatedGpuHours"`
	UsedGPUHours      float64 `json:"usedGpuHours"`
	UnpricedGPUHours  float64 `json:"unpricedGpuHours"`
	// Cost is the allocated hours priced, UsedCost the used hours priced.
	Cost     Micros `json:"cost"`
	UsedCost Micros `json:"usedCost"`
	// PodsWithoutTokens counts pods of the group whose engine exports no
	// token counter: their hours are in Cost, not in the per-token figures.
	PodsWithoutTokens int `json:"podsWithoutTokens,omitempty"`
	// Prompt (input) and generation (output) tokens; the prompt tokens
	// split by how they were served where the engine says so: computed
	// (prefill on the GPU), cached (own prefix cache), transferred
	// (another engine's KV).
	PromptTokens            *float64 `json:"promptTokens,omitempty"`
	GenerationTokens        *float64 `json:"generationTokens,omitempty"`
	ComputedPromptTokens    *float64 `json:"computedPromptTokens,omitempty"`
	CachedPromptTokens      *float64 `json:"cachedPromptTokens,omitempty"`
	TransferredPromptTokens *float64 `json:"transferredPromptTokens,omitempty"`
	// CostPerMillionTokens is the cost of the pods reporting tokens per
	// million tokens (prompt + generation); UsedCostPerMillionTokens the
	// used-only cost per million. PerMillionPrompt, PerMillionGeneration
	// and PerMillionComputed divide the same cost by one kind of tokens
	// only (what an input-only or output-only price would have to be).
	CostPerMillionTokens     *Micros `json:"costPerMillionTokens,omitempty"`
	UsedCostPerMillionTokens *Micros `json:"usedCostPerMillionTokens,omitempty"`
	CostPerMillionPrompt     *Micros `json:"costPerMillionPromptTokens,omitempty"`
	CostPerMillionGeneration *Micros `json:"costPerMillionGenerationTokens,omitempty"`
	CostPerMillionComputed   *Micros `json:"costPerMillionComputedPromptTokens,omitempty"`
	// ReferenceCost is what the same prompt and generation tokens would
	// cost at the configured reference prices (reference_prices, per
	// million input and output tokens), over the models that have one;
	// ReferencePerMillionTokens the same per million tokens.
	ReferenceCost             *Micros `json:"referenceCost,omitempty"`
	ReferencePerMillionTokens *Micros `json:"referencePerMillionTokens,omitempty"`

	acc tokAcc
}

// ReferencePrice is a model's reference price per million input (prompt)
// and output (generation) tokens, entered by the user.
type ReferencePrice struct {
	Input, Output Micros
}

// tokAcc is a group's sums before the per-million figures.
type tokAcc struct {
	hours, used, unpriced float64
	cost, usedCost        float64 // micros
	podsNoTok             int
	// tokCost and tokUsed are the cost and used cost of pods reporting
	// tokens, compCost that of pods reporting computed prompt tokens.
	tokCost, tokUsed, compCost float64
	prompt, gen                tokSum
	computed, cached, transfer tokSum
	// refCost is the reference cost of the tokens of models with a
	// reference price, refTok those tokens.
	refCost, refTok float64
	refOK           bool
}

// tokSum is a token count and whether any pod reported it.
type tokSum struct {
	v  float64
	ok bool
}

func (t *tokSum) add(o tokSum) {
	t.v += o.v
	t.ok = t.ok || o.ok
}

func (a *tokAcc) add(o tokAcc) {
	a.hours += o.hours
	a.used += o.used
	a.unpriced += o.unpriced
	a.cost += o.cost
	a.usedCost += o.usedCost
	a.podsNoTok += o.podsNoTok
	a.tokCost += o.tokCost
	a.tokUsed += o.tokUsed
	a.compCost += o.compCost
	a.prompt.add(o.prompt)
	a.gen.add(o.gen)
	a.computed.add(o.computed)
	a.cached.add(o.cached)
	a.transfer.add(o.transfer)
	a.refCost += o.refCost
	a.refTok += o.refTok
	a.refOK = a.refOK || o.refOK
}

// podTeam names one pod under one team on one priced bucket: the key of
// state.podHours (its GPU-points and used GPU-points).
type podTeam struct {
	pod  podKey
	team string
	b    bucket
}

// tokenRows joins each serving pod's GPU-hours (per team it belonged to
// and bucket, from pods) with the tokens its engine counted (per served
// model, at each point the team it belonged to then), and adds them per
// served model, GPU model, team and namespace. A pod serving several
// models has its cost split by their tokens.
func (st *state) tokenRows() []TokenCost {
	// Which pods serve which models: any engine series names them.
	type modelTok struct{ prompt, gen, computed, cached, transfer tokSum }
	type ptm struct {
		pod         podKey
		team, model string
	}
	served := map[podKey]map[string]bool{}
	mark := func(k podKey, m string) {
		if served[k] == nil {
			served[k] = map[string]bool{}
		}
		served[k][m] = true
	}
	for _, s := range st.d.serving {
		mark(podOf(s.m), string(s.m["model_name"]))
	}
	toks := map[ptm]*modelTok{}
	add := func(ss []series, field func(*modelTok) *tokSum) {
		for _, s := range ss {
			k, m := podOf(s.m), string(s.m["model_name"])
			mark(k, m)
			pv := st.view(k)
			// The team changes rarely along a series: its row is looked
			// up again only when it does.
			var (
				t    *modelTok
				team string
			)
			for i, v := range s.v {
				if math.IsNaN(v) {
					continue
				}
				if tm := st.resolve(pv, i); t == nil || tm != team {
					key := ptm{k, tm, m}
					if t = toks[key]; t == nil {
						t = &modelTok{}
						toks[key] = t
					}
					team = tm
				}
				f := field(t)
				f.ok = true
				f.v += math.Max(0, v) * st.g.weight(i) * st.g.step.Seconds()
			}
		}
	}
	add(st.d.promptTok, func(t *modelTok) *tokSum { return &t.prompt })
	add(st.d.genTok, func(t *modelTok) *tokSum { return &t.gen })
	add(st.d.computedTok, func(t *modelTok) *tokSum { return &t.computed })
	add(st.d.cachedTok, func(t *modelTok) *tokSum { return &t.cached })
	add(st.d.transferTok, func(t *modelTok) *tokSum { return &t.transfer })

	type rowKey struct{ model, gpu, team, ns string }
	rows := map[rowKey]*tokAcc{}
	toHours := st.g.step.Seconds() / 3600
	for _, pt := range sortedPodTeams(st.podHours) {
		models := served[pt.pod]
		if len(models) == 0 {
			continue // not a serving pod
		}
		h := st.podHours[pt]
		hours, used := h[0]*toHours, h[1]*toHours
		var cost, usedCost, unpriced float64
		if p, ok := st.c.opts.Prices.Lookup(pt.b.flavor, pt.b.model); ok {
			cost, usedCost = float64(p.times(hours)), float64(p.times(used))
		} else {
			unpriced = hours
		}
		// Split among the pod's models by their tokens under this team
		// (equally without tokens).
		names := slices.Sorted(func(yield func(string) bool) {
			for m := range models {
				if !yield(m) {
					return
				}
			}
		})
		all := 0.0
		for _, m := range names {
			if t := toks[ptm{pt.pod, pt.team, m}]; t != nil {
				all += t.prompt.v + t.gen.v
			}
		}
		for _, m := range names {
			share := 1 / float64(len(names))
			t := toks[ptm{pt.pod, pt.team, m}]
			if all > 0 {
				share = 0
				if t != nil {
					share = (t.prompt.v + t.gen.v) / all
				}
			}
			k := rowKey{m, st.podGPU[pt.pod], pt.team, pt.pod.ns}
			r := rows[k]
			if r == nil {
				r = &tokAcc{}
				rows[k] = r
			}
			r.hours += hours * share
			r.used += used * share
			r.unpriced += unpriced * share
			r.cost += cost * share
			r.usedCost += usedCost * share
			if t == nil || !t.prompt.ok && !t.gen.ok {
				r.podsNoTok++
				continue
			}
			r.tokCost += cost * share
			r.tokUsed += usedCost * share
			if t.computed.ok {
				r.compCost += cost * share
			}
		}
	}
	// Tokens go to their own (pod, team, model); each once.
	for key, t := range toks {
		k := rowKey{key.model, st.podGPU[key.pod], key.team, key.pod.ns}
		r := rows[k]
		if r == nil {
			// Tokens without GPU-hours (a pod without a GPU request, or
			// tokens after its hours ended): counted, at no cost.
			r = &tokAcc{}
			rows[k] = r
		}
		r.prompt.add(t.prompt)
		r.gen.add(t.gen)
		r.computed.add(t.computed)
		r.cached.add(t.cached)
		r.transfer.add(t.transfer)
	}
	out := make([]TokenCost, 0, len(rows))
	for k, r := range rows {
		if rp, ok := st.c.opts.ReferencePrices[k.model]; ok && (r.prompt.ok || r.gen.ok) {
			r.refOK = true
			r.refCost = r.prompt.v/1e6*float64(rp.Input) + r.gen.v/1e6*float64(rp.Output)
			r.refTok = r.prompt.v + r.gen.v
		}
		out = append(out, TokenCost{Model: k.model, GPUModel: k.gpu, Team: k.team, Namespace: k.ns, acc: *r})
	}
	slices.SortFunc(out, func(a, b TokenCost) int { return cmp.Compare(a.sortKey(), b.sortKey()) })
	return out
}

func (t TokenCost) sortKey() string {
	return t.Cluster + "\x00" + t.Model + "\x00" + t.GPUModel + "\x00" + t.Team + "\x00" + t.Namespace
}

// sortedPodTeams are the keys in a stable order (pod, team, bucket).
func sortedPodTeams(m map[podTeam]*[2]float64) []podTeam {
	ks := make([]podTeam, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b podTeam) int {
		return cmp.Or(cmp.Compare(a.pod.ns, b.pod.ns), cmp.Compare(a.pod.pod, b.pod.pod), cmp.Compare(a.team, b.team),
			cmp.Compare(a.b.flavor, b.b.flavor), cmp.Compare(a.b.model, b.b.model))
	})
	return ks
}

// groupTokens builds the groupings and the per-million figures from the
// set's rows: the one computation every surface reads.
func groupTokens(tc *TokenCosts) {
	if tc == nil {
		return
	}
	group := func(name func(TokenCost) string) []TokenCost {
		idx := map[string]int{}
		var out []TokenCost
		for _, r := range tc.Rows {
			n := name(r)
			i, ok := idx[n]
			if !ok {
				i = len(out)
				idx[n] = i
				out = append(out, TokenCost{Name: n})
			}
			out[i].acc.add(r.acc)
		}
		slices.SortFunc(out, func(a, b TokenCost) int { return cmp.Compare(a.Name, b.Name) })
		for i := range out {
			out[i].fill()
		}
		return out
	}
	orUn := func(s string) string {
		if s == "" {
			return Unattributed
		}
		return s
	}
	tc.ByModel = group(func(r TokenCost) string { return orUn(r.Model) })
	for i := range tc.ByModel {
		tc.ByModel[i].Model = tc.ByModel[i].Name
	}
	tc.ByModelGPU = group(func(r TokenCost) string { return orUn(r.Model) + " / " + orUn(r.GPUModel) })
	tc.ByTeam = group(func(r TokenCost) string { return orUn(r.Team) })
	tc.ByNamespace = group(func(r TokenCost) string { return orUn(r.Namespace) })
	tc.ByGPUModel = group(func(r TokenCost) string { return orUn(r.GPUModel) })
	tc.ByCluster = nil
	if slices.ContainsFunc(tc.Rows, func(r TokenCost) bool { return r.Cluster != "" }) {
		tc.ByCluster = group(func(r TokenCost) string { return orUn(r.Cluster) })
	}
	tot := TokenCost{Name: "__total__"}
	for _, r := range tc.Rows {
		tot.acc.add(r.acc)
	}
	tot.fill()
	tc.Totals = tot
	for i := range tc.Rows {
		tc.Rows[i].fill()
	}
}

// fill sets the exported figures from the sums.
func (t *TokenCost) fill() {
	a := t.acc
	t.AllocatedGPUHours, t.UsedGPUHours, t.UnpricedGPUHours = a.hours, a.used, a.unpriced
	t.Cost, t.UsedCost = Micros(math.Round(a.cost)), Micros(math.Round(a.usedCost))
	t.PodsWithoutTokens = a.podsNoTok
	t.PromptTokens, t.GenerationTokens = a.prompt.ptr(), a.gen.ptr()
	t.ComputedPromptTokens, t.CachedPromptTokens, t.TransferredPromptTokens = a.computed.ptr(), a.cached.ptr(), a.transfer.ptr()
	t.CostPerMillionTokens, t.UsedCostPerMillionTokens, t.CostPerMillionPrompt, t.CostPerMillionGeneration, t.CostPerMillionComputed = nil, nil, nil, nil, nil
	t.ReferenceCost, t.ReferencePerMillionTokens = nil, nil
	if a.prompt.ok || a.gen.ok {
		all := tokSum{v: a.prompt.v + a.gen.v, ok: true}
		t.CostPerMillionTokens = perMillion(a.tokCost, all)
		t.UsedCostPerMillionTokens = perMillion(a.tokUsed, all)
		t.CostPerMillionPrompt = perMillion(a.tokCost, a.prompt)
		t.CostPerMillionGeneration = perMillion(a.tokCost, a.gen)
	}
	t.CostPerMillionComputed = perMillion(a.compCost, a.computed)
	if a.refOK {
		rc := Micros(math.Round(a.refCost))
		t.ReferenceCost = &rc
		t.ReferencePerMillionTokens = perMillion(a.refCost, tokSum{v: a.refTok, ok: true})
	}
}

// ptr is the count, nil when not reported.
func (t tokSum) ptr() *float64 {
	if !t.ok {
		return nil
	}
	v := t.v
	return &v
}

// perMillion is micros per million tokens; nil when the tokens are not
// reported or zero (never Inf).
func perMillion(micros float64, tok tokSum) *Micros {
	if !tok.ok || tok.v <= 0 {
		return nil
	}
	m := Micros(math.Round(micros / tok.v * 1e6))
	return &m
}

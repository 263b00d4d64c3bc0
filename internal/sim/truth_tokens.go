package sim

import (
	"cmp"
	"slices"
)

// ModelTruth is one served model's truth on one GPU model since the start:
// the GPU-hours its running pods held (a MIG slice at its share of a
// card, as the price book charges) and used, and the tokens its engines
// processed. A model's cost per million tokens at an hourly price per
// GPU-hour is CostPerMillionTokens.
type ModelTruth struct {
	Model string `json:"model_name"`
	// Engine is the engine kind serving it (llamacpp exports no
	// model_name label).
	Engine string `json:"engine_kind"`
	// GPUProduct is the nodes' nvidia.com/gpu.product label, Flavor their
	// Kueue flavor: what the price book prices.
	GPUProduct        string  `json:"gpu_product"`
	Flavor            string  `json:"flavor"`
	AllocatedGPUHours float64 `json:"allocated_gpu_hours"`
	UsedGPUHours      float64 `json:"used_gpu_hours"`
	// PromptTokens counts every prompt token, CachedPromptTokens those
	// served from the prefix cache among them; GenerationTokens the
	// generated ones.
	PromptTokens       float64 `json:"prompt_tokens"`
	CachedPromptTokens float64 `json:"cached_prompt_tokens"`
	GenerationTokens   float64 `json:"generation_tokens"`
}

// Tokens is the prompt and generated tokens.
func (m ModelTruth) Tokens() float64 { return m.PromptTokens + m.GenerationTokens }

// CostPerMillionTokens is the allocated GPU-hours at hourly (money per
// GPU-hour) per million tokens; 0 without tokens.
func (m ModelTruth) CostPerMillionTokens(hourly float64) float64 {
	if m.Tokens() <= 0 {
		return 0
	}
	return m.AllocatedGPUHours * hourly / m.Tokens() * 1e6
}

// modelKey names a ModelTruth.
type modelKey struct{ model, engine, product, flavor string }

// engineSeen is what the truth last read of an engine's token counters.
type engineSeen struct{ prompt, gen, cached float64 }

// accountModels adds the running serving pods' GPU-hours and their
// engines' new tokens to their model's truth.
//
//go:norace
func (c *Cluster) accountModels(dt float64) {
	h := dt / 3600
	if c.models == nil {
		c.models = map[modelKey]*ModelTruth{}
	}
	for _, p := range c.pods {
		if p.dep == nil || p.phase != phaseRunning {
			continue
		}
		k := modelKey{p.dep.cfg.model.servedName, p.dep.spec.Engine, gpuProductLabel(p.node.fp.card.modelName), p.node.flavor}
		m := c.models[k]
		if m == nil {
			m = &ModelTruth{Model: k.model, Engine: k.engine, GPUProduct: k.product, Flavor: k.flavor}
			c.models[k] = m
		}
		for _, g := range p.units {
			share := g.node.fp.weight
			m.AllocatedGPUHours += share * h
			m.UsedGPUHours += share * g.act.busy * h
		}
		for _, e := range p.engines {
			s := e.truthSeen
			m.PromptTokens += e.c.promptTokens - s.prompt
			m.GenerationTokens += e.c.generationTokens - s.gen
			m.CachedPromptTokens += e.c.prefixHits - s.cached
			e.truthSeen = engineSeen{e.c.promptTokens, e.c.generationTokens, e.c.prefixHits}
		}
	}
}

// modelTruths are the models' truths in a stable order.
func (c *Cluster) modelTruths() []ModelTruth {
	out := make([]ModelTruth, 0, len(c.models))
	for _, m := range c.models {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b ModelTruth) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Engine, b.Engine), cmp.Compare(a.GPUProduct, b.GPUProduct), cmp.Compare(a.Flavor, b.Flavor))
	})
	return out
}

package fleet

import (
	"fmt"
	"strings"
)

// Term is one word of the glossary: the quantity it names, once.
type Term struct {
	Word       string
	Definition string
	// Formula says how it is computed, in the other words.
	Formula string
}

// Glossary is every word the surfaces use for a fleet quantity, each
// defined once. docs/glossary.md is generated from it and the dashboard's
// tooltips read it.
func Glossary() []Term {
	return []Term{
		{"physical GPUs", "GPU cards, as dcgm-exporter reports them (distinct UUIDs per node). A card split into MIG slices is one physical GPU.",
			"count of distinct (hostname, uuid)"},
		{"MIG slices", "The MIG instances physical GPUs are split into; each is a share of its card.",
			"count of distinct (hostname, uuid, GPU_I_ID)"},
		{"GPU-equivalents", "GPUs the pods can request, a MIG slice counted as its share of a card: n/7 for an ng profile (3g.40gb = 3/7).",
			"whole GPUs + Σ slices × n/7"},
		{"allocatable", "GPU-hours of the nodes' GPUs, a MIG-split card counted whole: the capacity paid for.",
			"Σ over time of max(allocatable GPU-equivalents, physical GPUs of MIG nodes)"},
		{"reserved", "GPU-hours of the teams' Kueue nominal quota (ClusterQueue), MIG resources included as GPU-equivalents.",
			"Σ over time of kueue_cluster_queue_nominal_quota × n/7"},
		{"admitted", "GPU-equivalents Kueue has admitted workloads for (quota reservation); not the same as reserved.",
			"kueue_*_resource_reservation × n/7"},
		{"allocated", "GPU-hours requested by Running pods (or Kueue usage where Kueue reports it), MIG slices as GPU-equivalents.",
			"Σ over time of Running pods' GPU requests × n/7"},
		{"used", "The busy part of the allocated GPU-hours.",
			"Σ over time of busy × allocated"},
		{"idle", "Allocatable GPU-hours no pod was allocated, the unsliced remainder of a MIG card included.",
			"allocatable − allocated"},
		{"unused", "Allocated GPU-hours the pods did not use.",
			"allocated − used"},
		{"unusable", "GPUs judged broken at the end of the window: HBM row remapping failed, DCGM's health check fails, uncorrectable remapped rows rose, or XIDs repeat (docs/diagnosis.md). They are never idle capacity: drain their nodes.",
			"health.Judge over the trailing unusable_lookback (15 m)"},
		{"busy", "The share of time a GPU's compute engine was active (DCGM_FI_PROF_GR_ENGINE_ACTIVE); for the fleet, used ÷ allocated.",
			"used ÷ allocated"},
		{"energy", "kWh the GPUs drew: from dcgm-exporter's energy counter (DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, mJ), its increase read as increase() reads it (a drop is a reset); where the counter is absent, the power gauge (DCGM_FI_DEV_POWER_USAGE, W) integrated over time, and the figure says so. A team's energy is that of the GPUs its Running pods held while they held them; idle energy that of GPUs no pod held.",
			"Σ over time of Δ counter ÷ 3.6e9 (mJ → kWh), else Σ power × Δt ÷ 3.6e6"},
		{"emissions", "The energy's greenhouse gases at the configured grid carbon intensity (servescope.carbon_intensity, g CO2e per kWh); absent without one.",
			"energy × carbon_intensity ÷ 1000 (kg CO2e)"},
		{"tokens per joule", "Tokens a served model's pods processed per joule their GPUs drew, per GPU model; prompt (input) and generated (output) tokens also apart.",
			"(Σ prompt + generated tokens) ÷ (energy of the pods' GPUs in J)"},
		{"cost per million tokens", "What a million tokens of a served model cost on its GPU model (also per team, namespace, GPU model and cluster): the money of the allocated GPU-hours its serving pods held, the hours their GPUs sat idle included (that is what the tokens cost), over the prompt (input) and generated (output) tokens their engines counted (every engine's token counters). Per million prompt, generated or computed prompt tokens divides the same money by those tokens only. Pods whose engine exports no token counter are left out of it (their tokens are not reported, never 0); with zero tokens there is no figure. A configured reference price (reference_prices, per million input and output tokens) is shown beside it.",
			"allocated money of the serving pods ÷ (prompt + generated tokens) × 10⁶"},
		{"used-only", "Cost per million tokens counting only the used (busy) part of the serving pods' GPU-hours: what the tokens would cost on GPUs that never sat idle; shown beside the cost per million tokens, which counts the idle time too.",
			"used money of the serving pods ÷ (prompt + generated tokens) × 10⁶"},
		{"computed prompt tokens", "Prompt tokens whose KV the engine computed on the GPU (prefill work), where the engine says how each prompt token was served: vLLM's prompt_tokens_by_source (local_compute; also local_cache_hit and external_kv_transfer), SGLang's realtime_tokens_total{mode=prefill_compute} or prompt less cached tokens. The prompt-token counters count cached and transferred tokens too.",
			"prompt tokens − cached − transferred"},
		{"money", "GPU-hours priced per GPU-hour by the price book (Kueue flavor, else GPU model), a MIG slice at its share of the card's price; shown rounded to cents.",
			"Σ GPU-hours × hourly price"},
		{"objective", "A latency objective (SLO) of the config: the share of a model's requests (target) that must have a latency indicator (TTFT, ITL, TPOT or end-to-end) at or under a threshold, over a window (default 28 days); read from the engine's histogram, so the threshold must be one of its bucket boundaries. Declared for one model or for every model (*), evaluated per model.",
			"good requests = bucket(le = threshold); slow ratio = 1 − good ÷ all requests"},
		{"error budget", "The share of requests an objective allows to be slower than its threshold; remaining is what the window's slow requests have not spent (negative when overspent).",
			"budget = 1 − target; remaining = 1 − slow ratio over the window ÷ budget"},
		{"burn rate", "How fast slow requests spend the error budget: 1 spends it exactly over the objective's window. The burn-rate alerts (Google SRE workbook) page at 14.4 over 1h and 5m or 6 over 6h and 30m, and open a ticket at 1 over 3d and 6h, when the model served at least slo_min_request_rate requests/s over the last hour.",
			"slow ratio over a window ÷ budget"},
	}
}

// Define returns the definition of a glossary word ("" when it is none),
// for tooltips.
func Define(word string) string {
	for _, t := range Glossary() {
		if strings.EqualFold(t.Word, word) {
			return t.Definition + " (" + t.Formula + ")"
		}
	}
	return ""
}

// GlossaryMarkdown renders docs/glossary.md.
func GlossaryMarkdown() []byte {
	var b strings.Builder
	b.WriteString("# Glossary\n\n<!-- Generated from internal/analyze/fleet/glossary.go by `go test ./internal/analyze/fleet -update`; do not edit. -->\n\n")
	b.WriteString("Every surface (summary, `top`, `diagnose`, `report utilisation`, the fleet report, the dashboard, `cost` and `/api/v1/*`) reads one fleet model\n")
	b.WriteString("(internal/analyze/fleet) and names its quantities with these words, each defined once. JSON fields use the same words.\n")
	b.WriteString("GPU-hours are integrated over time from the samples (time-weighted); every GPU count a person sees is physical GPUs.\n\n")
	b.WriteString("| word | definition | formula |\n|---|---|---|\n")
	for _, t := range Glossary() {
		fmt.Fprintf(&b, "| **%s** | %s | %s |\n", t.Word, t.Definition, t.Formula)
	}
	b.WriteString("\nIdentities: allocatable = allocated + idle; allocated = used + unused; on a fleet of N physical GPUs, allocatable = N GPU-hours per hour.\n")
	return []byte(b.String())
}

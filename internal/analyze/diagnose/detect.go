package diagnose

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// podView is one pod's signals joined with its GPUs' (mean busy, DRAM and
// tensor activity over the pod's GPUs per step, max XID).
type podView struct {
	p              *Pod
	busy, dram     Track
	tensor, xid    Track
	profiling      bool
	disagree       float64 // spread of the GPUs' mean busy
	gpus           []*GPU
	n, from        int // steps in the window; first step of the sustain period
	minute         int // steps in one minute (at least one)
	knobs          knobs
	step           time.Duration
	start          time.Time
	queries        map[string]string
	th             Thresholds
	caveatsCommon  []string
	confidenceBase float64
	// unjudged says which detector could not judge for a missing signal;
	// it lowers a healthy verdict's confidence and is its caveat.
	unjudged string
}

func newPodView(s *Snapshot, p *Pod, th Thresholds) *podView {
	n := s.Window.Steps()
	v := &podView{p: p, n: n, step: s.Window.Step, start: s.Window.Start, queries: s.Queries, th: th,
		busy: newTrack(n), dram: newTrack(n), tensor: newTrack(n), xid: newTrack(n), profiling: len(p.GPUs) > 0,
		confidenceBase: 0.9}
	v.from = max(0, n-stepsIn(th.Sustain, s.Window.Step))
	v.minute = stepsIn(time.Minute, s.Window.Step)
	v.knobs = engineKnobs(p.Engine)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, gi := range p.GPUs {
		g := &s.GPUs[gi]
		v.gpus = append(v.gpus, g)
		v.profiling = v.profiling && g.Profiling
		if m := g.Busy.stats(v.from, n).mean; !math.IsNaN(m) {
			lo, hi = min(lo, m), max(hi, m)
		}
	}
	if hi > lo {
		v.disagree = hi - lo
	}
	for i := range n {
		v.busy[i] = meanAt(v.gpus, i, func(g *GPU) Track { return g.Busy })
		v.dram[i] = meanAt(v.gpus, i, func(g *GPU) Track { return g.DRAM })
		v.tensor[i] = meanAt(v.gpus, i, func(g *GPU) Track { return g.Tensor })
		for _, g := range v.gpus {
			if x := g.XID.at(i); !math.IsNaN(x) && (math.IsNaN(v.xid[i]) || x > v.xid[i]) {
				v.xid[i] = x
			}
		}
	}
	if v.disagree > th.GPUDisagree {
		v.caveatsCommon = append(v.caveatsCommon, fmt.Sprintf("the pod's %d GPUs disagree: mean busy spreads over %.2f", len(v.gpus), v.disagree))
		v.confidenceBase *= 0.7
	}
	return v
}

// meanAt averages one track over GPUs at step i, skipping missing values.
func meanAt(gs []*GPU, i int, tr func(*GPU) Track) float64 {
	var sum float64
	n := 0
	for _, g := range gs {
		if x := tr(g).at(i); !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// sustained measures cond over the sustain period: the share of steps
// meeting it and the start of the trailing run of steps that do.
func (v *podView) sustained(cond func(i int) bool) (share float64, since time.Time) {
	hits := 0
	for i := v.from; i < v.n; i++ {
		if cond(i) {
			hits++
		}
	}
	j := v.n
	for j > 0 && cond(j-1) {
		j--
	}
	if j == v.n { // the condition does not hold now: since its last run
		for j > 0 && !cond(j-1) {
			j--
		}
		for j > 0 && cond(j-1) {
			j--
		}
	}
	return float64(hits) / float64(max(1, v.n-v.from)), v.start.Add(time.Duration(j) * v.step)
}

// coverage is the share of sustain steps where every track has a value.
func (v *podView) coverage(ts ...Track) float64 {
	ok := 0
	for i := v.from; i < v.n; i++ {
		all := true
		for _, t := range ts {
			if math.IsNaN(t.at(i)) {
				all = false
				break
			}
		}
		if all {
			ok++
		}
	}
	return float64(ok) / float64(max(1, v.n-v.from))
}

func (v *podView) ev(signal, stat string, t Track) Evidence {
	st := t.stats(v.from, v.n)
	val := map[string]float64{"mean": st.mean, "max": st.max, "min": st.min, "last": st.last}[stat]
	return evidence(signal, stat, val, v.queries[signal])
}

// evidence is one value behind a finding; a value the signal never had
// in the period (NaN) is "not reported", never 0.
func evidence(signal, stat string, x float64, q string) Evidence {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return Evidence{Signal: signal, Stat: stat, NotReported: true, Query: q}
	}
	return Evidence{Signal: signal, Stat: stat, Value: round(x), Query: q}
}

// Text renders the evidence's value and stat, e.g. "0.42 (mean)" or
// "not reported (mean)".
func (e Evidence) Text() string {
	if e.NotReported {
		return "not reported (" + e.Stat + ")"
	}
	return strconv.FormatFloat(e.Value, 'g', 4, 64) + " (" + e.Stat + ")"
}

// MarshalJSON writes a not-reported value as null, never 0.
func (e Evidence) MarshalJSON() ([]byte, error) {
	type plain Evidence
	var val *float64
	if !e.NotReported {
		val = &e.Value
	}
	return json.Marshal(struct {
		plain
		Value *float64 `json:"value"`
	}{plain(e), val})
}

// reported says whether x is a value (not NaN).
func reported(x float64) bool { return !math.IsNaN(x) }

func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func (v *podView) finding(state State, sev Severity, conf float64, since time.Time, summary, action string, ev ...Evidence) Finding {
	return Finding{Subject: v.p.Subject(), State: state, Severity: sev, Confidence: round(min(1, max(0, conf))),
		Since: since, Summary: summary, Action: action, Evidence: ev, Caveats: slices.Clone(v.caveatsCommon)}
}

// knobs are an engine's flags an action names: the batch size, the
// memory given to the KV cache and the context length.
type knobs struct{ batch, memory, context string }

// engineKnobs names the flags of the engine the catalog recognised.
func engineKnobs(engine string) knobs {
	switch engine {
	case "vllm":
		return knobs{"--max-num-seqs", "--gpu-memory-utilization", "--max-model-len"}
	case "sglang":
		return knobs{"--max-running-requests", "--mem-fraction-static", "--context-length"}
	case "llamacpp":
		return knobs{"--parallel", "--ctx-size", "--ctx-size"}
	case "tgi":
		return knobs{"--max-batch-total-tokens", "--cuda-memory-fraction", "--max-total-tokens"}
	}
	return knobs{"the engine's maximum batch", "the engine's KV-cache memory share", "the maximum context length"}
}

// detectPod runs every pod detector; the findings are in precedence order.
func detectPod(s *Snapshot, p *Pod, th Thresholds) []Finding {
	v := newPodView(s, p, th)
	var out []Finding
	for _, det := range []func(*podView, *Snapshot) *Finding{
		detectMissingLayer, detectUnusableGPU, detectXID, detectEngineAsleep, detectIdle, detectKVSaturated, detectKVTransferBound, detectPDImbalance, detectPoorSpec,
		detectHostBound, detectGatewayBacklog, detectBacklog, detectTTFTRegression, detectMemoryBound,
	} {
		if f := det(v, s); f != nil {
			out = append(out, *f)
		}
	}
	if len(out) == 0 {
		f := v.finding(StateHealthy, SeverityInfo, v.confidenceBase*v.coverage(v.busy, p.Running), s.Window.Start,
			"No detector fired: the engine and its GPUs look well used.", "None.",
			v.ev(sigBusy, "mean", v.busy), v.ev(sigRunning, "mean", p.Running))
		if v.unjudged != "" {
			f.Confidence = round(f.Confidence * 0.5)
			f.Caveats = append(f.Caveats, v.unjudged)
			f.Evidence = append(f.Evidence, v.ev(sigKV, "mean", p.KVUsage))
		}
		out = append(out, f)
	}
	return out
}

func detectMissingLayer(v *podView, s *Snapshot) *Finding {
	last := v.n - 1
	engine := !math.IsNaN(v.p.Running.at(last)) || !math.IsNaN(v.p.KVUsage.at(last))
	gpuGone := func(i int) bool { return math.IsNaN(v.busy.at(i)) || v.frozen(i, s) }
	var missing, cause string
	var since time.Time
	switch {
	case len(s.GPUs) == 0:
		return nil // no GPU layer anywhere: reported once for the fleet
	case engine && gpuGone(last):
		missing = "GPU"
		_, since = v.sustained(gpuGone)
		if len(v.gpus) == 0 {
			cause = "no GPU series names this pod (gpu_pod): the GPU exporter is down or does not map GPUs to pods"
		} else {
			cause = fmt.Sprintf("the GPU series of its %d GPUs stopped", len(v.gpus))
		}
	case !engine && !math.IsNaN(v.busy.at(last)):
		missing = "engine"
		_, since = v.sustained(func(i int) bool { return math.IsNaN(v.p.Running.at(i)) })
		cause = "the engine's series stopped while its GPUs still report"
	default:
		return nil
	}
	ev := []Evidence{v.ev(sigRunning, "last", v.p.Running), v.ev(sigBusy, "last", v.busy)}
	conf := 0.7
	for _, t := range s.Targets {
		if !math.IsNaN(t.Down.at(len(t.Down) - 1)) {
			ev = append(ev, Evidence{Signal: "up{job=" + t.Job + ",instance=" + t.Instance + "}", Stat: "last", Value: 0, Query: s.Queries[sigDown]})
			conf = 0.9
		}
	}
	f := v.finding(StateMissingLayer, SeverityWarning, conf, since,
		fmt.Sprintf("The %s layer is missing for this pod: %s. Its %s state cannot be judged.", missing, cause, missing),
		"Restore the exporter (check the targets listed as down); until then, do not read this pod's utilisation.", ev...)
	return &f
}

// frozen reports whether the pod's GPU busy has repeated the same
// non-zero value for the last minute while a scrape target is down: the
// store holds no staleness marker (backfilled or remote data), so the
// lookback keeps returning the exporter's last sample. Live readings of a
// busy ratio never repeat exactly; an idle GPU's zeros are not counted.
func (v *podView) frozen(i int, s *Snapshot) bool {
	same := max(2, v.minute) // steps: one minute
	b := v.busy.at(i)
	if math.IsNaN(b) || b == 0 || i < same-1 {
		return false
	}
	for j := i - same + 1; j < i; j++ {
		if v.busy.at(j) != b {
			return false
		}
	}
	for _, t := range s.Targets {
		if !math.IsNaN(t.Down.at(i)) {
			return true
		}
	}
	return false
}

func detectXID(v *podView, _ *Snapshot) *Finding {
	x := v.xid.at(v.n - 1)
	if math.IsNaN(x) || x <= 0 {
		return nil
	}
	_, since := v.sustained(func(i int) bool { return v.xid.at(i) > 0 })
	f := v.finding(StateXID, SeverityCritical, v.confidenceBase, since,
		fmt.Sprintf("A GPU of this pod reported XID %g.", x),
		"Drain the node and check the GPU (XID 48/63/64/74/79/94/95 need a reset or replacement); restart the pod elsewhere.",
		v.ev(sigXID, "last", v.xid))
	return &f
}

func detectIdle(v *podView, _ *Snapshot) *Finding {
	th := v.th
	cond := func(i int) bool {
		b := v.busy.at(i)
		r, w := v.p.Running.at(i), v.p.Waiting.at(i)
		if !reported(w) {
			w = 0 // the running batch alone says no request is served
		}
		return !math.IsNaN(b) && b < th.IdleBusy && reported(r) && r+w < 0.5
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	f := v.finding(StateIdle, SeverityWarning, v.confidenceBase*v.coverage(v.busy), since,
		fmt.Sprintf("The pod's %d GPU(s) are idle: engine active below %.2f and no requests.", len(v.gpus), th.IdleBusy),
		"Scale the deployment down or release the GPUs to the queue (see the model's consolidation finding).",
		v.ev(sigBusy, "mean", v.busy), v.ev(sigRunning, "max", v.p.Running), v.ev(sigWaiting, "max", v.p.Waiting))
	f.GPUs = -len(v.gpus)
	return &f
}

func detectKVSaturated(v *podView, _ *Snapshot) *Finding {
	th := v.th
	cond := func(i int) bool {
		kv := math.Inf(-1)
		for j := max(0, i-v.minute+1); j <= i; j++ { // the max of the last minute, as a scrape misses peaks
			if x := v.p.KVUsage.at(j); reported(x) {
				kv = max(kv, x)
			}
		}
		return kv >= th.KVSaturated && v.p.Preemptions.at(i) > 0
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	f := v.finding(StateKVSaturated, SeverityCritical, v.confidenceBase*v.coverage(v.p.KVUsage, v.p.Preemptions), since,
		fmt.Sprintf("The KV cache is above %.2f and requests are being preempted: new requests wait for blocks, not compute; risk of OOM.", th.KVSaturated),
		fmt.Sprintf("Give the KV cache more room: raise %s, lower %s or %s, enable prefix caching or an FP8 KV cache, or add replicas.", v.knobs.memory, v.knobs.context, v.knobs.batch),
		v.ev(sigKV, "max", v.p.KVUsage), v.ev(sigKV, "mean", v.p.KVUsage), v.ev(sigPreempt, "mean", v.p.Preemptions))
	return &f
}

func detectPoorSpec(v *podView, _ *Snapshot) *Finding {
	st := v.p.SpecAcceptance.stats(v.from, v.n)
	if st.n == 0 || st.mean <= 0 || st.mean >= v.th.SpecAcceptance {
		return nil
	}
	_, since := v.sustained(func(i int) bool { return v.p.SpecAcceptance.at(i) < v.th.SpecAcceptance })
	f := v.finding(StatePoorSpecDecode, SeverityWarning, v.confidenceBase*v.coverage(v.p.SpecAcceptance), since,
		fmt.Sprintf("Only %.0f%% of the draft tokens are accepted: each step pays for the draft and gains little.", st.mean*100),
		"Use a draft model matched to the target (same family, distilled), fewer speculative tokens, or turn speculative decoding off.",
		v.ev(sigSpec, "mean", v.p.SpecAcceptance))
	return &f
}

func detectHostBound(v *podView, _ *Snapshot) *Finding {
	th := v.th
	cond := func(i int) bool {
		b := v.busy.at(i)
		return !math.IsNaN(b) && b < th.HostBoundBusy && v.p.Running.at(i) >= th.HostBoundRunning
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	f := v.finding(StateHostBound, SeverityWarning, v.confidenceBase*v.coverage(v.busy, v.p.Running), since,
		fmt.Sprintf("The GPU is active below %.2f of the time while requests run: it starves between steps; the CPU, tokenizer or scheduler is the bottleneck.", th.HostBoundBusy),
		"Give the pod more CPU (and check CPU limits and throttling), use a faster tokenizer or detokenise asynchronously, enable CUDA graphs, or larger batches per step.",
		v.ev(sigBusy, "mean", v.busy), v.ev(sigRunning, "mean", v.p.Running), v.ev(sigTensor, "mean", v.tensor))
	return &f
}

func detectBacklog(v *podView, _ *Snapshot) *Finding {
	th := v.th
	cond := func(i int) bool {
		return v.p.Waiting.at(i) >= th.BacklogWaiting && v.busy.at(i) >= th.BacklogBusy
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	busy := v.busy.stats(v.from, v.n).mean
	run, wait := v.p.Running.stats(v.from, v.n).mean, v.p.Waiting.stats(v.from, v.n).mean
	f := v.finding(StateBacklog, SeverityWarning, v.confidenceBase*v.coverage(v.busy, v.p.Waiting), since,
		fmt.Sprintf("Requests wait (%.0f on average) on an engine %.0f%% active: throughput is short of demand.", wait, busy*100),
		fmt.Sprintf("Add replicas, or raise %s if the KV cache has room.", v.knobs.batch),
		v.ev(sigWaiting, "mean", v.p.Waiting), v.ev(sigRunning, "mean", v.p.Running), v.ev(sigBusy, "mean", v.busy))
	if busy > th.ScaleOutBusy && run > 0 && len(v.gpus) > 0 {
		// A queue's length is not a rate, so the size of the shortfall is
		// unknown: bring this pod's share to the target busy, at least.
		n := max(1, int(math.Ceil(float64(len(v.gpus))*busy/th.TargetBusy))-len(v.gpus))
		f.Severity, f.GPUs = SeverityCritical, n
		f.Action = fmt.Sprintf("Scale out by at least %d GPU(s) for this pod's share of the load (or raise %s if the KV cache has room), then re-measure: while requests queue, demand exceeds what is served.", n, v.knobs.batch)
	}
	return &f
}

func detectTTFTRegression(v *podView, _ *Snapshot) *Finding {
	th := v.th
	if v.from < v.minute {
		return nil // no baseline (a minute at least) before the sustain period
	}
	base := median(v.p.TTFTp95.head(v.from))
	if math.IsNaN(base) || base <= 0 {
		return nil
	}
	cond := func(i int) bool {
		x := v.p.TTFTp95.at(i)
		return x >= th.TTFTFactor*base && x >= base+th.TTFTMinIncrease.Seconds()
	}
	if !cond(v.n - 1) {
		return nil
	}
	_, since := v.sustained(cond)
	cause := "cause unclear: no KV saturation and no arrival spike"
	kv := v.p.KVUsage.stats(v.from, v.n)
	pre := v.p.Preemptions.stats(v.from, v.n)
	promptNow, promptBase := v.p.PromptTPS.stats(v.from, v.n).mean, median(v.p.PromptTPS.head(v.from))
	switch {
	case kv.max >= th.KVSaturated || pre.max > 0:
		cause = "likely KV saturation (cache full, preemptions)"
	case promptNow >= 1.3*promptBase && promptBase > 0:
		cause = fmt.Sprintf("likely an arrival spike (prompt tokens ×%.1f)", promptNow/promptBase)
	case v.p.Waiting.stats(v.from, v.n).mean >= th.BacklogWaiting:
		cause = "requests are queueing"
	}
	f := v.finding(StateTTFTRegression, SeverityWarning, v.confidenceBase*v.coverage(v.p.TTFTp95), since,
		fmt.Sprintf("TTFT p95 is %.2fs, %.1f× its baseline %.2fs: %s.", v.p.TTFTp95.at(v.n-1), v.p.TTFTp95.at(v.n-1)/base, base, cause),
		"If an arrival spike: add replicas or rate-limit; if KV saturation: see the KV finding; else check prefill chunking and prompt lengths.",
		v.ev(sigTTFTp95, "last", v.p.TTFTp95), evidence(sigTTFTp95, "baseline", base, v.queries[sigTTFTp95]),
		v.ev(sigPrompt, "mean", v.p.PromptTPS), v.ev(sigKV, "max", v.p.KVUsage))
	return &f
}

func median(t Track) float64 {
	var xs []float64
	for _, x := range t {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// detectMemoryBound reads the roofline from the counters: the engine is
// busy while the memory interface is far more active than the tensor
// cores, and nothing waits. Whether the batch could grow is judged from
// the data: doubling the running batch (KV usage roughly doubles with it)
// must keep the KV cache below kv_high. Without KV usage that room is
// unknown and the detector does not fire; the pod's healthy verdict then
// says so. KV usage never hides what the counters show: with no room it
// still fires, and the action is to give the cache room first.
func detectMemoryBound(v *podView, _ *Snapshot) *Finding {
	th := v.th
	counters := func(i int) bool {
		b, d, w := v.busy.at(i), v.dram.at(i), v.p.Waiting.at(i)
		ok := b >= th.MemoryBoundBusy && d >= th.MemoryBoundDRAM && !(w >= th.BacklogWaiting)
		if v.profiling {
			t := v.tensor.at(i)
			ok = ok && t < th.MemoryBoundTensor && d >= th.MemoryBoundDRAMOverTensor*t
		}
		return ok
	}
	share, since := v.sustained(counters)
	if share < th.SustainShare {
		return nil
	}
	kv := v.p.KVUsage.stats(v.from, v.n)
	if kv.n == 0 {
		v.unjudged = fmt.Sprintf("%s is not reported by this engine: the GPU counters look memory-bound, but whether the batch could grow is unknown, so memory-bound is not judged", sigKV)
		return nil
	}
	conf := v.confidenceBase * v.coverage(v.busy, v.dram, v.p.KVUsage)
	var caveats []string
	if !v.profiling {
		conf *= 0.5
		caveats = append(caveats, "profiling counters (DCGM_FI_PROF_*) absent: busy is DEV_GPU_UTIL and DRAM is DEV_MEM_COPY_UTIL, tensor activity unknown, so busy cannot tell a memory-bound loop from a well-used GPU")
	}
	if v.p.Waiting.stats(v.from, v.n).n == 0 {
		conf *= 0.7
		caveats = append(caveats, sigWaiting+" is not reported: a queue cannot be ruled out")
	}
	run := v.p.Running.stats(v.from, v.n)
	room := 2*kv.max < th.KVHigh
	perStep := ""
	evs := []Evidence{v.ev(sigBusy, "mean", v.busy), v.ev(sigDRAM, "mean", v.dram), v.ev(sigTensor, "mean", v.tensor),
		v.ev(sigRunning, "mean", v.p.Running), v.ev(sigKV, "max", v.p.KVUsage)}
	// Tokens per engine step, where the engine reports them, measure "few
	// tokens" directly: the batch a step carries, which raising the batch
	// raises.
	if it := v.p.IterationTokens.stats(v.from, v.n); it.n > 0 {
		perStep = fmt.Sprintf(" (%.0f per engine step on average, %.0f requests running)", it.mean, run.mean)
		evs = append(evs, v.ev(sigIterTok, "mean", v.p.IterationTokens))
	}
	summary := fmt.Sprintf("The engine is busy and the memory interface (%.0f%% active) far outpaces the tensor cores (%s): each decode step streams the weights for few tokens%s.",
		v.dram.stats(v.from, v.n).mean*100, pctOrUnknown(v.tensor.stats(v.from, v.n).mean), perStep)
	action := fmt.Sprintf("Raise the batch per replica: doubling the running batch (%.0f on average) keeps the KV cache at %.0f%%, below %.0f%%; use fewer replicas for the same traffic (see the model's capacity advice), a larger %s, or route more traffic here.",
		run.mean, 2*kv.max*100, th.KVHigh*100, v.knobs.batch)
	if !room {
		action = fmt.Sprintf("Give the KV cache room before raising the batch (at %.0f%% it cannot double below %.0f%%): raise %s, lower %s, use an FP8 KV cache or quantised weights; then raise %s.",
			kv.max*100, th.KVHigh*100, v.knobs.memory, v.knobs.context, v.knobs.batch)
	}
	f := v.finding(StateMemoryBound, SeverityInfo, conf, since, summary, action, evs...)
	f.Caveats = append(f.Caveats, caveats...)
	return &f
}

func pctOrUnknown(x float64) string {
	if !reported(x) {
		return "not reported"
	}
	return fmt.Sprintf("%.0f%% active", x*100)
}

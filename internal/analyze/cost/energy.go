package cost

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// Energy sources, the values of the catalog's energy_source label.
const (
	// EnergyCounter is DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION's increase.
	EnergyCounter = "counter"
	// EnergyPower is DCGM_FI_DEV_POWER_USAGE integrated over time, read
	// only for GPUs without the energy counter.
	EnergyPower = "power"
)

// GPUEnergy is one GPU's (or MIG slice's) energy over a set's window.
type GPUEnergy struct {
	Hostname string `json:"hostname"`
	UUID     string `json:"uuid"`
	// MIGInstance is the GPU instance id on a MIG slice.
	MIGInstance string  `json:"migInstance,omitempty"`
	GPUModel    string  `json:"gpuModel,omitempty"`
	EnergyKWh   float64 `json:"energyKwh"`
	// Source is EnergyCounter or EnergyPower.
	Source string `json:"source"`
}

// PodEnergy is the energy of the GPUs one pod held while it held them.
type PodEnergy struct {
	Namespace string  `json:"namespace"`
	Pod       string  `json:"pod"`
	Team      string  `json:"team"`
	GPUModel  string  `json:"gpuModel,omitempty"`
	EnergyKWh float64 `json:"energyKwh"`
}

// ModelEnergy is one served model on one GPU model: the tokens its pods
// processed (integrated from the catalog's token rates on the grid), the
// energy of their GPUs, and tokens per joule, input and output apart.
type ModelEnergy struct {
	Model             string  `json:"model"`
	GPUModel          string  `json:"gpuModel"`
	PromptTokens      float64 `json:"promptTokens"`
	GenerationTokens  float64 `json:"generationTokens"`
	EnergyKWh         float64 `json:"energyKwh"`
	TokensPerJoule    float64 `json:"tokensPerJoule"`
	PromptPerJoule    float64 `json:"promptTokensPerJoule"`
	GeneratedPerJoule float64 `json:"generationTokensPerJoule"`
}

// joulesPerKWh converts joules to kWh.
const joulesPerKWh = 3.6e6

// energyData is each GPU's energy per point of a set's grid (point k: the
// interval after t_k) and the pod its series named there.
type energyData struct {
	gpus []gpuSeries
}

// gpuSeries is one GPU's energy per point, in joules, and the pod whose
// series held it at each point ("" pod for none).
type gpuSeries struct {
	m model.Metric // the GPU's first series
	// joules[k] is the energy of the interval after point k, owner[k]
	// the pod it goes to: for the power gauge the pod at t_k (the state
	// at a point holds until the next, as GPU-hours are counted); for the
	// counter the pod of the sample that reported the increase, at the
	// end of the interval.
	joules []float64
	owner  []podKey
	source string
}

// loadEnergy reads the catalog's gpu_energy_joules at the grid's points
// and one step past the last, and turns each GPU's series into energy per
// point. The catalog's first source wins per GPU: the energy counter, else
// the power gauge.
//
// A GPU's counter series (one per pod that held it, the counter running
// on across them) are joined into one counter per GPU; point k's energy
// is its increase from t_k to t_k+1, a drop being a reset after which the
// new value is the increase, as increase() reads it; it goes to the pod
// whose series reported it (the sample at t_k+1). Gaps (a scrape missed,
// an exporter down) are bridged by the next increase, given to the point
// before the gap. The power gauge is integrated on the grid of the
// GPU-hours: its value at each point holds for that point's step
// (grid.weight). The last point's energy is cut to the part of its step
// inside the window.
func (c *Calculator) loadEnergy(ctx context.Context, q Querier, g grid) (*energyData, error) {
	ext := g
	ext.n++
	ss, err := ext.load(ctx, q, c.q.energy, c.chunk)
	if err != nil {
		return nil, err
	}
	byGPU := map[[3]string][]series{}
	var keys [][3]string
	for _, s := range ss {
		k := gpuKey(s.m)
		if byGPU[k] == nil {
			keys = append(keys, k)
		}
		byGPU[k] = append(byGPU[k], s)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "/") < strings.Join(keys[j][:], "/") })
	ed := &energyData{}
	for _, k := range keys {
		ed.gpus = append(ed.gpus, gpuEnergyOf(g, byGPU[k]))
	}
	return ed, nil
}

// gpuEnergyOf is one GPU's energy per point from its series, read on a
// grid one point longer than g.
func gpuEnergyOf(g grid, ss []series) gpuSeries {
	gs := gpuSeries{m: ss[0].m, joules: make([]float64, g.n), owner: make([]podKey, g.n), source: EnergyPower}
	pod := make([]podKey, g.n+1)
	val := make([]float64, g.n+1)
	for i := range val {
		val[i] = math.NaN()
	}
	for _, s := range ss {
		if string(s.m["energy_source"]) == EnergyCounter {
			gs.source = EnergyCounter
		}
	}
	for _, s := range ss {
		if string(s.m["energy_source"]) != gs.source {
			continue
		}
		pk := podOf(s.m)
		for i, v := range s.v {
			// Two series at one point (the old pod's within the lookback):
			// the one that counted further is the current one.
			if !math.IsNaN(v) && (math.IsNaN(val[i]) || v > val[i]) {
				val[i], pod[i] = v, pk
			}
		}
	}
	if gs.source == EnergyPower {
		for k := range g.n {
			if !math.IsNaN(val[k]) {
				gs.joules[k], gs.owner[k] = val[k]*g.weight(k)*g.step.Seconds(), pod[k]
			}
		}
		return gs
	}
	prev := -1
	for k, v := range val {
		if math.IsNaN(v) {
			continue
		}
		if prev >= 0 {
			d := v - val[prev]
			if d < 0 {
				d = v // a reset: counting began again from zero
			}
			if prev == g.n-1 {
				d *= g.tail
			}
			gs.joules[prev], gs.owner[prev] = d, pod[k]
		}
		prev = k
	}
	return gs
}

// energy adds each GPU's energy to the allocation of the pod holding it
// (its team, namespace, queue and GPU model at that point); a GPU no pod
// holds adds to the idle energy. It also keeps the energy per GPU and pod.
func (st *state) energy() {
	ed := st.d.energy
	if ed == nil {
		return
	}
	pods := map[podKey]*PodEnergy{}
	// Whether a pod holds no allocation (no pod, or the exporter's own),
	// matched once per pod rather than at every GPU and point.
	unallocated := map[string]bool{}
	idle := func(pod string) bool {
		v, ok := unallocated[pod]
		if !ok {
			v = pod == "" || st.c.unpod.MatchString(pod)
			unallocated[pod] = v
		}
		return v
	}
	for _, gs := range ed.gpus {
		gm := st.nodes[string(gs.m["hostname"])].model
		if gm == "" {
			gm = string(gs.m["modelName"])
		}
		ge := st.gpu(gs.m, gm)
		ge.Source = gs.source
		var (
			cur  *acc
			curA attrs
			j    float64
		)
		flush := func() {
			if cur != nil {
				cur.energyJ += j
			}
			j = 0
		}
		for i, x := range gs.joules {
			k := gs.owner[i]
			if x == 0 {
				continue
			}
			ge.EnergyKWh += x / joulesPerKWh
			if idle(k.pod) {
				st.idleEnergyJ += x
				continue
			}
			pe := pods[k]
			if pe == nil {
				pe = &PodEnergy{Namespace: k.ns, Pod: k.pod, GPUModel: gm}
				pods[k] = pe
			}
			pe.EnergyKWh += x / joulesPerKWh
			pv := st.view(k)
			a := attrs{team: st.resolve(pv, i), ns: k.ns, queue: nearest(pv.cq, i), model: gm}
			if a.team != "" {
				pe.Team = a.team
			}
			if cur == nil || a != curA {
				flush()
				cur, curA = st.row(a), a
			}
			j += x
		}
		flush()
	}
	for _, k := range sortedKeys(pods) {
		st.podEnergy = append(st.podEnergy, *pods[k])
	}
}

// tokensPerJoule joins the pods' tokens (per model_name) with their GPUs'
// energy, per served model and GPU model. A pod serving several models
// (rare) has its energy split by their tokens.
func (st *state) tokensPerJoule() []ModelEnergy {
	type tok struct{ prompt, gen float64 }
	perPod := map[podKey]map[string]*tok{}
	add := func(ss []series, gen bool) {
		for _, s := range ss {
			k, model := podOf(s.m), string(s.m["model_name"])
			if perPod[k] == nil {
				perPod[k] = map[string]*tok{}
			}
			t := perPod[k][model]
			if t == nil {
				t = &tok{}
				perPod[k][model] = t
			}
			for i, v := range s.v {
				if math.IsNaN(v) {
					continue
				}
				x := v * st.g.weight(i) * st.g.step.Seconds()
				if gen {
					t.gen += x
				} else {
					t.prompt += x
				}
			}
		}
	}
	add(st.d.promptTok, false)
	add(st.d.genTok, true)
	type key struct{ model, gpu string }
	out := map[key]*ModelEnergy{}
	for _, pe := range st.podEnergy {
		models := perPod[podKey{pe.Namespace, pe.Pod}]
		all := 0.0
		for _, t := range models {
			all += t.prompt + t.gen
		}
		if all == 0 {
			continue
		}
		for name, t := range models {
			k := key{name, pe.GPUModel}
			me := out[k]
			if me == nil {
				me = &ModelEnergy{Model: name, GPUModel: pe.GPUModel}
				out[k] = me
			}
			me.PromptTokens += t.prompt
			me.GenerationTokens += t.gen
			me.EnergyKWh += pe.EnergyKWh * (t.prompt + t.gen) / all
		}
	}
	keys := make([]key, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].model < keys[j].model || keys[i].model == keys[j].model && keys[i].gpu < keys[j].gpu
	})
	res := make([]ModelEnergy, 0, len(keys))
	for _, k := range keys {
		me := out[k]
		if j := me.EnergyKWh * joulesPerKWh; j > 0 {
			me.PromptPerJoule, me.GeneratedPerJoule = me.PromptTokens/j, me.GenerationTokens/j
			me.TokensPerJoule = me.PromptPerJoule + me.GeneratedPerJoule
		}
		res = append(res, *me)
	}
	return res
}

// gpu returns the energy record of a series' GPU, creating it.
func (st *state) gpu(m model.Metric, gm string) *GPUEnergy {
	key := gpuKey(m)
	ge := st.gpuEnergy[key]
	if ge == nil {
		ge = &GPUEnergy{Hostname: key[0], UUID: key[1], MIGInstance: key[2], GPUModel: gm}
		st.gpuEnergy[key] = ge
	}
	return ge
}

// gpuKey names a GPU or MIG slice: hostname, uuid and GPU instance.
func gpuKey(m model.Metric) [3]string {
	return [3]string{string(m["hostname"]), string(m["uuid"]), string(m["GPU_I_ID"])}
}

// sortedKeys are a pod map's keys by namespace and pod.
func sortedKeys[V any](m map[podKey]V) []podKey {
	ks := make([]podKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].ns+"/"+ks[i].pod < ks[j].ns+"/"+ks[j].pod })
	return ks
}

// energyTotals sets the set's energy per GPU and pod, the fleet's energy
// and the note saying where it comes from.
func (c *Calculator) energyTotals(set *Set, st *state) {
	keys := make([][3]string, 0, len(st.gpuEnergy))
	for k := range st.gpuEnergy {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "/") < strings.Join(keys[j][:], "/") })
	power := 0
	for _, k := range keys {
		ge := st.gpuEnergy[k]
		if ge.Source != EnergyCounter {
			power++
		}
		set.Fleet.EnergyKWh += ge.EnergyKWh
		set.GPUEnergy = append(set.GPUEnergy, *ge)
	}
	set.PodEnergy = st.podEnergy
	set.EnergySource = energySource(len(keys), power)
	if power > 0 {
		set.Warnings = append(set.Warnings, set.EnergySource)
	}
}

// energySource is the note on the energy figures: which source they come
// from, given the GPUs with energy and how many of them had only power.
func energySource(gpus, power int) string {
	switch {
	case gpus == 0:
		return ""
	case power == 0:
		return "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
	case power == gpus:
		return "energy integrated from DCGM_FI_DEV_POWER_USAGE: the energy counter is absent"
	}
	return "energy from DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, integrated from DCGM_FI_DEV_POWER_USAGE for " + strconv.Itoa(power) + " of " + strconv.Itoa(gpus) + " GPUs without the energy counter"
}

// setEnergy sets an allocation's energy from joules, with its emissions.
func (c *Calculator) setEnergy(a *Allocation, joules float64) {
	a.EnergyKWh = joules / joulesPerKWh
	a.EmissionsKgCO2e = emissions(a.EnergyKWh, c.opts.CarbonIntensity)
}

// emissions is kg CO2e of kWh at g CO2e per kWh (0 without an intensity).
func emissions(kwh, gPerKWh float64) float64 { return kwh * gPerKWh / 1000 }

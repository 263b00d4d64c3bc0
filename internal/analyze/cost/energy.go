package cost

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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
	EnergyKWh float64 `json:"energyKwh"`
}

// joulesPerKWh converts joules to kWh.
const joulesPerKWh = 3.6e6

// energyMinRange is the shortest range the energy signal is read over:
// the catalog's rate range, which holds two scrapes at any usual interval.
const energyMinRange = 5 * time.Minute

// energyData is each GPU series' energy in joules at the points of a
// set's grid: a counter series' at the first point of each window it is
// read over (span points), a power series' at every point (span 1).
type energyData struct {
	series []series
	span   []int
}

// loadEnergy reads the catalog's gpu_energy_watts, whose first source per
// GPU is the energy counter's rate, else the power gauge.
//
// A counter series is read over consecutive windows that cover the set's
// window once: (t_0, t_0+r], (t_0+r, t_0+2r] … with r = m·step at least
// energyMinRange, the last one cut at the window's end. Its increase over
// each (resets handled as increase does) divided by r is the average
// power, so power × r is the window's energy; the windows do not overlap,
// so none is counted twice.
//
// A power series is integrated on the grid of the GPU-hours: its value at
// each point holds for that point's step (grid.weight).
func (c *Calculator) loadEnergy(ctx context.Context, q Querier, g grid) (*energyData, error) {
	m := max(1, int((energyMinRange+g.step-1)/g.step))
	r := time.Duration(m) * g.step
	full := int(g.end.Sub(g.start) / r)
	rest := g.end.Sub(g.start) - time.Duration(full)*r
	ed := &energyData{}
	// GPUs with the counter: their power gauge is never integrated, even
	// where the counter has no rate yet (its first sample).
	counted := map[[3]string]bool{}
	byFP := map[model.Fingerprint][]int{}
	add := func(s series, span, k int, j float64) {
		fp := s.m.Fingerprint()
		i := slices.IndexFunc(byFP[fp], func(i int) bool { return ed.series[i].m.Equal(s.m) })
		if i < 0 {
			vs := make([]float64, g.n)
			for j := range vs {
				vs[j] = math.NaN()
			}
			byFP[fp] = append(byFP[fp], len(ed.series))
			ed.series = append(ed.series, series{m: s.m, v: vs})
			ed.span = append(ed.span, span)
			i = len(ed.series) - 1
		} else {
			i = byFP[fp][i]
		}
		ed.series[i].v[k] = j
	}
	counters := func(w time.Duration, eg grid, k0 int) error {
		expr, err := c.opts.Catalog.WithRange(c.q.energy, w)
		if err != nil {
			return fmt.Errorf("energy query: %w", err)
		}
		ss, err := eg.load(ctx, q, expr, c.chunk)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if string(s.m["energy_source"]) != EnergyCounter {
				continue
			}
			counted[gpuKey(s.m)] = true
			for j, v := range s.v {
				if !math.IsNaN(v) {
					add(s, m, k0+j*m, v*w.Seconds())
				}
			}
		}
		return nil
	}
	if full > 0 {
		eg := grid{start: g.start.Add(r), end: g.start.Add(time.Duration(full) * r), step: r, n: full, tail: 1, head: -1}
		if err := counters(r, eg, 0); err != nil {
			return nil, err
		}
	}
	if rest > 0 {
		// The last, shorter window, read at the window's end over what
		// is left of it: data after the end are not counted.
		if err := counters(rest, grid{start: g.end, end: g.end, step: rest, n: 1, tail: 1, head: -1}, full*m); err != nil {
			return nil, err
		}
	}
	ss, err := g.load(ctx, q, c.q.energy, c.chunk)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if string(s.m["energy_source"]) == EnergyCounter || counted[gpuKey(s.m)] {
			continue
		}
		for k, v := range s.v {
			if !math.IsNaN(v) {
				add(s, 1, k, v*g.weight(k)*g.step.Seconds())
			}
		}
	}
	return ed, nil
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
	for si, s := range ed.series {
		k := podOf(s.m)
		if st.c.unpod.MatchString(k.pod) {
			k.pod = ""
		}
		host := string(s.m["hostname"])
		gm := st.nodes[host].model
		if gm == "" {
			gm = string(s.m["modelName"])
		}
		ge := st.gpu(s.m, gm)
		pv := st.view(k)
		var pe *PodEnergy
		if k.pod != "" {
			if pe = pods[k]; pe == nil {
				pe = &PodEnergy{Namespace: k.ns, Pod: k.pod}
				pods[k] = pe
			}
		}
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
		for i, x := range s.v {
			if math.IsNaN(x) {
				continue
			}
			ge.EnergyKWh += x / joulesPerKWh
			if pe == nil {
				st.idleEnergyJ += x
				continue
			}
			pe.EnergyKWh += x / joulesPerKWh
			a := st.energyAttrs(pv, k, gm, i, min(i+ed.span[si], st.g.n))
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

// energyAttrs are the allocation attributes of a pod's energy over the
// points [from, to): its team at the first of them that names one.
func (st *state) energyAttrs(pv podView, k podKey, gpuModel string, from, to int) attrs {
	a := attrs{ns: k.ns, queue: nearest(pv.cq, from), model: gpuModel}
	for i := from; i < to && a.team == ""; i++ {
		a.team = st.resolve(pv, i)
	}
	return a
}

// gpu returns the energy record of a series' GPU, creating it. A GPU whose
// series come from both sources (impossible within one evaluation, as the
// catalog's first source wins per GPU) is marked with the counter's.
func (st *state) gpu(m model.Metric, gm string) *GPUEnergy {
	key := gpuKey(m)
	ge := st.gpuEnergy[key]
	if ge == nil {
		ge = &GPUEnergy{Hostname: key[0], UUID: key[1], MIGInstance: key[2], GPUModel: gm, Source: string(m["energy_source"])}
		st.gpuEnergy[key] = ge
	}
	if string(m["energy_source"]) == EnergyCounter {
		ge.Source = EnergyCounter
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

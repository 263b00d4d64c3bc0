package diagnose

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Report is the diagnosis over one window: every finding, each pod's
// primary state, roll-ups per model and fleet, the utilisation report and
// the capacity advice.
type Report struct {
	At     time.Time     `json:"at"`
	Window time.Duration `json:"window"`
	// Findings holds fleet, model, pod and GPU findings, in that order.
	Findings []Finding `json:"findings"`
	// Pods is each pod's primary (highest-precedence) state.
	Pods        []PodStatus   `json:"pods"`
	Models      []ModelStatus `json:"models"`
	Utilisation Utilisation   `json:"utilisation"`
	Capacity    []Capacity    `json:"capacity"`
}

// PodStatus is one pod's primary state and the GPUs it holds.
type PodStatus struct {
	Subject Subject  `json:"subject"`
	Primary State    `json:"primary"`
	GPUs    []string `json:"gpus,omitempty"`
}

// ModelStatus rolls pods up per model: how many pods are in each primary
// state and how many GPUs they hold.
type ModelStatus struct {
	Model  string        `json:"model"`
	Pods   int           `json:"pods"`
	GPUs   int           `json:"gpus"`
	States map[State]int `json:"states"`
}

// Analyze runs every detector over the snapshot: the pure core of the
// diagnosis.
func Analyze(s *Snapshot, th Thresholds) *Report {
	r := &Report{At: s.Window.End, Window: s.Window.End.Sub(s.Window.Start)}
	models := map[string]*ModelStatus{}
	for i := range s.Pods {
		p := &s.Pods[i]
		fs := detectPod(s, p, th)
		st := PodStatus{Subject: p.Subject(), Primary: fs[0].State}
		for _, gi := range p.GPUs {
			st.GPUs = append(st.GPUs, s.GPUs[gi].UUID)
		}
		r.Pods = append(r.Pods, st)
		r.Findings = append(r.Findings, fs...)
		m := models[p.Model]
		if m == nil {
			m = &ModelStatus{Model: p.Model, States: map[State]int{}}
			models[p.Model] = m
		}
		m.Pods++
		m.GPUs += len(p.GPUs)
		m.States[st.Primary]++
	}
	for _, m := range models {
		r.Models = append(r.Models, *m)
	}
	slices.SortFunc(r.Models, func(a, b ModelStatus) int { return cmpString(a.Model, b.Model) })
	r.Findings = append(r.Findings, gpuFindings(s, th)...)
	r.Capacity = capacity(s, th)
	for i := range r.Capacity {
		c := &r.Capacity[i]
		// Memory-bound engines are busy streaming weights for small
		// batches: their busy overstates what the load needs.
		if m := models[c.Model]; m != nil && m.States[StateMemoryBound]*2 >= m.Pods && !c.Saturated && c.Delta > 0 {
			c.Needed, c.Delta = c.Held, 0
			c.Advice = "busy overstates the need: most pods are memory-bound (small batches); fewer replicas with larger batches would serve the same load (see their findings)"
		}
	}
	r.Findings = append(r.Findings, modelFindings(s, r.Capacity, th)...)
	r.Utilisation = utilisation(s, th)
	if len(s.GPUs) == 0 && len(s.Pods) > 0 {
		r.Findings = append(r.Findings, Finding{Subject: Subject{Level: LevelFleet}, State: StateMissingLayer,
			Severity: SeverityWarning, Confidence: 0.9, Since: s.Window.Start,
			Summary: "No GPU series at all: the GPU layer (dcgm-exporter) is not scraped, so GPU use cannot be judged.",
			Action:  "Scrape dcgm-exporter (with --kubernetes so GPUs map to pods)."})
	}
	stakes(s, r)
	sortFindings(r.Findings)
	return r
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ForSubject returns the findings about one subject (pod, GPU or model).
func (r *Report) ForSubject(s Subject) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Subject.Level == s.Level && f.Subject.String() == s.String() {
			out = append(out, f)
		}
	}
	return out
}

// ForGPU rolls findings up to one GPU: its own and those of the pod
// holding it.
func (r *Report) ForGPU(uuid string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Subject.Level == LevelGPU && f.Subject.UUID == uuid {
			out = append(out, f)
		}
	}
	for _, p := range r.Pods {
		if slices.Contains(p.GPUs, uuid) {
			out = append(out, r.ForSubject(p.Subject)...)
		}
	}
	return out
}

// gpuFindings are the findings about GPUs no pod explains: unallocated
// GPUs (idle capacity) and XID errors on them.
func gpuFindings(s *Snapshot, th Thresholds) []Finding {
	var out []Finding
	n := s.Window.Steps()
	from := max(0, n-int(th.Sustain/s.Window.Step))
	for i := range s.GPUs {
		g := &s.GPUs[i]
		if g.Pod != "" {
			continue
		}
		if x := g.XID.at(n - 1); x > 0 {
			out = append(out, Finding{Subject: g.Subject(), State: StateXID, Severity: SeverityCritical, Confidence: 0.9,
				Since: s.Window.Start, Summary: fmt.Sprintf("Unallocated GPU reported XID %g.", x),
				Action:   "Cordon the node and check the GPU before scheduling onto it.",
				Evidence: []Evidence{{Signal: sigXID, Stat: "last", Value: x, Query: s.Queries[sigXID]}}})
		}
		st := g.Busy.stats(from, n)
		if st.n > 0 && st.max < th.IdleBusy {
			out = append(out, Finding{Subject: g.Subject(), State: StateIdle, Severity: SeverityInfo, Confidence: 0.9,
				Since:   s.Window.Start,
				Summary: "GPU held by no pod and idle: capacity nobody uses.",
				Action:  "Shrink the node pool or the queues' quota, or admit waiting workloads onto it.",
				GPUs:    -1,
				Evidence: []Evidence{{Signal: sigBusy, Stat: "max", Value: round(st.max), Query: s.Queries[sigBusy]},
					{Signal: sigGPUPod, Stat: "last", Value: 0, Query: s.Queries[sigGPUPod]}}})
		}
	}
	return out
}

// Capacity is the advice for one model: how many GPUs the observed peak
// demand needs at the target busy level, against how many are held.
type Capacity struct {
	Model string `json:"model"`
	Held  int    `json:"held"`
	// PeakDemand is the peak over the window of the GPU-equivalents in use
	// (Σ busy over the model's GPUs).
	PeakDemand float64 `json:"peak_demand_gpus"`
	MeanBusy   float64 `json:"mean_busy"`
	Needed     int     `json:"needed"`
	// Delta is Needed − Held: positive to add, negative to free.
	Delta int `json:"delta"`
	// Saturated is set when requests waited in most of the window: the
	// served load is then a floor of the demand, and Needed a lower bound.
	Saturated bool   `json:"saturated,omitempty"`
	Advice    string `json:"advice"`
}

func capacity(s *Snapshot, th Thresholds) []Capacity {
	n := s.Window.Steps()
	by := map[string][]*Pod{}
	for i := range s.Pods {
		by[s.Pods[i].Model] = append(by[s.Pods[i].Model], &s.Pods[i])
	}
	var out []Capacity
	for model, pods := range by {
		c := Capacity{Model: model}
		var busySum float64
		var busyN, waited int
		for i := range n {
			var demand, wait float64
			for _, p := range pods {
				for _, gi := range p.GPUs {
					if b := s.GPUs[gi].Busy.at(i); !math.IsNaN(b) {
						demand += b
						busySum += b
						busyN++
					}
				}
				wait += nz(p.Waiting.at(i))
			}
			if wait >= th.BacklogWaiting {
				waited++
			}
			c.PeakDemand = max(c.PeakDemand, demand)
		}
		// A queue's length is not a rate: while requests wait, the demand
		// is only known to exceed what was served.
		c.Saturated = waited*2 > n
		for _, p := range pods {
			c.Held += len(p.GPUs)
		}
		if busyN == 0 {
			continue
		}
		c.MeanBusy = round(busySum / float64(busyN))
		c.PeakDemand = round(c.PeakDemand)
		c.Needed = max(1, int(math.Ceil(c.PeakDemand/th.TargetBusy-1e-9)))
		c.Delta = c.Needed - c.Held
		switch {
		case c.Saturated:
			c.Delta = max(1, c.Delta)
			c.Advice = fmt.Sprintf("add at least %d GPU(s): requests queue, so demand exceeds the %.1f GPUs served; re-measure after scaling", c.Delta, c.PeakDemand)
		case c.Delta > 0:
			c.Advice = fmt.Sprintf("add %d GPU(s): peak demand %.1f GPUs at %.0f%% target busy needs %d, %d held", c.Delta, c.PeakDemand, th.TargetBusy*100, c.Needed, c.Held)
		case c.Delta < 0:
			c.Advice = fmt.Sprintf("free %d GPU(s): peak demand %.1f GPUs at %.0f%% target busy needs %d, %d held", -c.Delta, c.PeakDemand, th.TargetBusy*100, c.Needed, c.Held)
		default:
			c.Advice = "sized right for the observed peak"
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Capacity) int { return cmpString(a.Model, b.Model) })
	return out
}

// modelFindings: consolidation (busy low, nothing waiting: free GPUs) and
// scale-out (backlog on busy GPUs) per model.
func modelFindings(s *Snapshot, caps []Capacity, th Thresholds) []Finding {
	var out []Finding
	for _, c := range caps {
		var wait float64
		var waitN int
		for i := range s.Pods {
			p := &s.Pods[i]
			if p.Model != c.Model {
				continue
			}
			if st := p.Waiting.stats(0, len(p.Waiting)); st.n > 0 {
				wait += st.mean
				waitN++
			}
		}
		subj := Subject{Level: LevelModel, Model: c.Model}
		ev := []Evidence{{Signal: sigBusy, Stat: "mean", Value: c.MeanBusy, Query: s.Queries[sigBusy]},
			{Signal: sigWaiting, Stat: "mean", Value: round(wait), Query: s.Queries[sigWaiting]}}
		switch {
		case c.MeanBusy < th.ConsolidateBusy && wait < th.BacklogWaiting && c.Delta < 0:
			out = append(out, Finding{Subject: subj, State: StateConsolidate, Severity: SeverityWarning, Confidence: 0.8,
				Since: s.Window.Start, GPUs: c.Delta, Evidence: ev,
				Summary: fmt.Sprintf("The model's %d GPUs are %.0f%% busy on average with nothing waiting.", c.Held, c.MeanBusy*100),
				Action:  fmt.Sprintf("Consolidate: free %d GPU(s) (%s).", -c.Delta, c.Advice)})
		case c.MeanBusy > th.ScaleOutBusy && wait >= th.BacklogWaiting && c.Delta > 0:
			out = append(out, Finding{Subject: subj, State: StateBacklog, Severity: SeverityCritical, Confidence: 0.8,
				Since: s.Window.Start, GPUs: c.Delta, Evidence: ev,
				Summary: fmt.Sprintf("Requests wait on the model's %d GPUs, %.0f%% busy.", c.Held, c.MeanBusy*100),
				Action:  fmt.Sprintf("Scale out by %d GPU(s) (%s).", c.Delta, c.Advice)})
		}
	}
	return out
}

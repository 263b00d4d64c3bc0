package diagnose

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/slo"
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
	// Unusable are the GPUs judged unusable at the end of the window
	// (health.Judge), with the pod holding each: excluded from idle and
	// capacity advice.
	Unusable []health.Unusable `json:"unusable,omitempty"`
	// Objectives are the latency objectives per model at At: error budget
	// remaining and burn rates (none without objectives).
	Objectives []slo.Status `json:"objectives,omitempty"`
	// Queues is each Kueue ClusterQueue's primary state and view
	// (view_kueue.go).
	Queues []QueueStatus `json:"queues,omitempty"`
	// Gateways are the inference gateways' queues (collect_gateway.go).
	Gateways []GatewayStatus `json:"gateways,omitempty"`
}

// PodStatus is one pod's primary state and the GPUs it holds.
type PodStatus struct {
	Subject Subject  `json:"subject"`
	Primary State    `json:"primary"`
	GPUs    []string `json:"gpus,omitempty"`
	// Role is the pod's serving role (pod_role: prefill, decode, ...);
	// empty when unknown.
	Role string `json:"role,omitempty"`
}

// ModelStatus rolls pods up per model: how many pods are in each primary
// state and how many GPUs they hold.
type ModelStatus struct {
	// Cluster is the cluster label's value; empty without it.
	Cluster string        `json:"cluster,omitempty"`
	Model   string        `json:"model"`
	Pods    int           `json:"pods"`
	GPUs    int           `json:"gpus"`
	States  map[State]int `json:"states"`
}

// Analyze runs every detector over the snapshot: the pure core of the
// diagnosis.
func Analyze(s *Snapshot, th Thresholds) *Report {
	r := &Report{At: s.Window.End, Window: s.Window.End.Sub(s.Window.Start)}
	models := map[string]*ModelStatus{}
	for i := range s.Pods {
		p := &s.Pods[i]
		fs := detectPod(s, p, th)
		st := PodStatus{Subject: p.Subject(), Primary: fs[0].State, Role: p.Role}
		for _, gi := range p.GPUs {
			st.GPUs = append(st.GPUs, s.GPUs[gi].UUID)
		}
		r.Pods = append(r.Pods, st)
		r.Findings = append(r.Findings, fs...)
		m := models[p.Cluster+"\xff"+p.Model]
		if m == nil {
			m = &ModelStatus{Cluster: p.Cluster, Model: p.Model, States: map[State]int{}}
			models[p.Cluster+"\xff"+p.Model] = m
		}
		m.Pods++
		m.GPUs += len(p.GPUs)
		m.States[st.Primary]++
	}
	for _, m := range models {
		r.Models = append(r.Models, *m)
	}
	slices.SortFunc(r.Models, func(a, b ModelStatus) int {
		if c := cmpString(a.Cluster, b.Cluster); c != 0 {
			return c
		}
		return cmpString(a.Model, b.Model)
	})
	r.Findings = append(r.Findings, gpuFindings(s, th)...)
	var unusable []Finding
	r.Unusable, unusable = unusableGPUs(s, th)
	r.Findings = append(r.Findings, unusable...)
	r.Capacity = capacity(s, th)
	for i := range r.Capacity {
		c := &r.Capacity[i]
		// Memory-bound engines are busy streaming weights for small
		// batches: their busy overstates what the load needs.
		if m := models[c.Cluster+"\xff"+c.Model]; m != nil && m.States[StateMemoryBound]*2 >= m.Pods && c.Delta == 0 && !c.Saturated {
			c.Advice = "none from demand; busy overstates the need: most pods are memory-bound (small batches), so fewer replicas with larger batches would serve the same load (see their findings)"
		}
	}
	r.Findings = append(r.Findings, modelFindings(s, r.Capacity, th)...)
	r.Utilisation = utilisation(s, th)
	qf, qprimary := queueFindings(s, th)
	r.Findings = append(r.Findings, qf...)
	r.Queues = queueStatuses(s, qprimary)
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

// Clusters are the clusters the report's subjects come from (the cluster
// label's values), sorted; fewer than two means one cluster, whose views
// need no cluster column.
func (r *Report) Clusters() []string {
	var out []string
	add := func(c string) {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, p := range r.Pods {
		add(p.Subject.Cluster)
	}
	for _, f := range r.Findings {
		add(f.Subject.Cluster)
	}
	for _, c := range r.Capacity {
		add(c.Cluster)
	}
	slices.Sort(out)
	return out
}

// ForSubject returns the findings about one subject (pod, GPU or model).
func (r *Report) ForSubject(s Subject) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Subject.Level == s.Level && f.Subject.Cluster == s.Cluster && f.Subject.String() == s.String() {
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
	from := max(0, n-stepsIn(th.Sustain, s.Window.Step))
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
		if st.n > 0 && st.max < th.IdleBusy && !unusableAt(s, i, th) { // a broken GPU is no capacity
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

// Capacity is the advice for one model on one kind of GPU: how many GPUs
// the demand needs against how many of that kind are held. GPUs are added
// only on evidence of unmet demand (requests waiting, preemptions, TTFT
// above target) and freed only when they are barely busy with nothing
// waiting; a model that serves its demand gets no advice.
type Capacity struct {
	// Cluster is the cluster label's value; empty without it. GPUs are
	// advised per cluster: one cluster's cannot serve another's demand.
	Cluster string `json:"cluster,omitempty"`
	Model   string `json:"model"`
	// GPUModel is the dcgm modelName of the GPUs; MIG is set when they are
	// MIG slices (counted as slices, never mixed with whole GPUs) and
	// MIGProfile names the slices' profile (e.g. "3g.40gb") where
	// dcgm-exporter reports it: slices of different profiles are different
	// kinds.
	GPUModel   string `json:"gpu_model"`
	MIG        bool   `json:"mig,omitempty"`
	MIGProfile string `json:"mig_profile,omitempty"`
	Held       int    `json:"held"`
	// PeakDemand is the peak over the window of the GPU-equivalents in use
	// (Σ busy over the model's GPUs).
	PeakDemand float64 `json:"peak_demand_gpus"`
	MeanBusy   float64 `json:"mean_busy"`
	Needed     int     `json:"needed"`
	// Delta is Needed − Held: positive to add, negative to free, 0 for no
	// advice.
	Delta int `json:"delta"`
	// Saturated is set when demand went unmet in most of the window
	// (Unmet says how): the served load is then a floor of the demand, and
	// Needed a lower bound.
	Saturated bool `json:"saturated,omitempty"`
	// GatewayQueued is the mean of the requests the model's inference
	// gateways held over the window (counted as waiting, unmet demand);
	// zero without a gateway.
	GatewayQueued float64  `json:"gateway_queued,omitempty"`
	Unmet         []string `json:"unmet,omitempty"`
	Advice        string   `json:"advice"`
}

// Kind names the GPUs of the advice, e.g. "NVIDIA H100 80GB HBM3 GPU",
// "NVIDIA A100-SXM4-80GB MIG 3g.40gb slice", or "… MIG slice" when the
// profile is not reported.
func (c Capacity) Kind() string {
	k := c.GPUModel
	if k == "" {
		k = "(GPU model not reported)"
	}
	if c.MIG && c.MIGProfile != "" {
		return k + " MIG " + c.MIGProfile + " slice"
	}
	if c.MIG {
		return k + " MIG slice"
	}
	return k + " GPU"
}

// capacityKey groups pods by model and the kind of GPU they hold.
type capacityKey struct {
	cluster, model, gpu, profile string
	mig                          bool
}

func capacity(s *Snapshot, th Thresholds) []Capacity {
	n := s.Window.Steps()
	by := map[capacityKey][]*Pod{}
	var keys []capacityKey
	for i := range s.Pods {
		p := &s.Pods[i]
		if holdsUnusable(s, p, th) {
			continue // its GPUs are neither free capacity nor a measure of demand
		}
		k := capacityKey{cluster: p.Cluster, model: p.Model}
		if len(p.GPUs) > 0 {
			g := s.GPUs[p.GPUs[0]]
			k.gpu, k.mig, k.profile = g.ModelName, g.MIG != "", g.MIGProfile
		}
		if by[k] == nil {
			keys = append(keys, k)
		}
		by[k] = append(by[k], p)
	}
	var out []Capacity
	for _, k := range keys {
		pods := by[k]
		c := Capacity{Cluster: k.cluster, Model: k.model, GPUModel: k.gpu, MIG: k.mig, MIGProfile: k.profile}
		var busySum float64
		var busyN, waited, preempted, slow, unmet, waitSeenN, gated int
		var gwSum float64
		for i := range n {
			var demand, wait, pre, ttft, gw float64
			var waitSeen bool
			for _, p := range pods {
				for _, gi := range p.GPUs {
					if b := s.GPUs[gi].Busy.at(i); reported(b) {
						demand += b
						busySum += b
						busyN++
					}
				}
				if w := p.queued(i); reported(w) {
					wait += w
					waitSeen = true
				}
				// Requests an inference gateway holds are demand no
				// engine has seen: they wait as surely as queued ones.
				if g := p.GatewayQueued.at(i); reported(g) {
					gw += g
					waitSeen = true
				}
				if x := p.Preemptions.at(i); reported(x) {
					pre += x
				}
				if x := p.TTFTp95.at(i); reported(x) {
					ttft = max(ttft, x)
				}
			}
			if waitSeen {
				waitSeenN++
			}
			gwSum += gw
			g := gw >= th.GatewayQueued*float64(len(pods))
			if g {
				gated++
			}
			w, pr, sl := waitSeen && wait >= th.BacklogWaiting, pre > 0, th.TTFTTarget > 0 && ttft > th.TTFTTarget.Seconds()
			if w {
				waited++
			}
			if pr {
				preempted++
			}
			if sl {
				slow++
			}
			if w || pr || sl || g {
				unmet++
			}
			c.PeakDemand = max(c.PeakDemand, demand)
		}
		for _, p := range pods {
			c.Held += len(p.GPUs)
		}
		if busyN == 0 {
			continue
		}
		// Unmet demand in most of the window: a queue's length is not a
		// rate, so the demand is only known to exceed what was served.
		c.Saturated = unmet*2 > n
		if c.Saturated {
			share := func(k int) string { return fmt.Sprintf("%.0f%% of the window", 100*float64(k)/float64(n)) }
			if waited > 0 {
				c.Unmet = append(c.Unmet, "requests waiting in "+share(waited))
			}
			if gated > 0 {
				c.Unmet = append(c.Unmet, fmt.Sprintf("%.0f requests held at the inference gateway on average, in %s", gwSum/float64(n), share(gated)))
			}
			if preempted > 0 {
				c.Unmet = append(c.Unmet, "preemptions in "+share(preempted))
			}
			if slow > 0 {
				c.Unmet = append(c.Unmet, fmt.Sprintf("TTFT p95 above %s in %s", th.TTFTTarget, share(slow)))
			}
		}
		c.MeanBusy = round(busySum / float64(busyN))
		c.GatewayQueued = round(gwSum / float64(n))
		c.PeakDemand = round(c.PeakDemand)
		c.Needed = max(1, int(math.Ceil(c.PeakDemand/th.TargetBusy-1e-9)))
		kind := c.Kind()
		switch {
		case c.Saturated && c.MeanBusy >= th.BacklogBusy:
			c.Delta = max(1, c.Needed-c.Held)
			c.Needed = c.Held + c.Delta
			c.Advice = fmt.Sprintf("add at least %d × %s: demand is unmet (%s) on the %d held, %.0f%% busy; re-measure after scaling",
				c.Delta, kind, strings.Join(c.Unmet, ", "), c.Held, c.MeanBusy*100)
		case c.Saturated:
			c.Needed = c.Held
			c.Advice = fmt.Sprintf("none from capacity: demand is unmet (%s) but the %d × %s are only %.0f%% busy, so more GPUs would not help (see the pods' findings)",
				strings.Join(c.Unmet, ", "), c.Held, kind, c.MeanBusy*100)
		case c.MeanBusy < th.ConsolidateBusy && waitSeenN > 0 && waited == 0 && gated == 0 && c.Needed < c.Held:
			c.Delta = c.Needed - c.Held
			c.Advice = fmt.Sprintf("free %d × %s: %.0f%% busy on average with nothing waiting; peak demand %.1f GPUs at %.0f%% target busy needs %d, %d held",
				-c.Delta, kind, c.MeanBusy*100, c.PeakDemand, th.TargetBusy*100, c.Needed, c.Held)
		default:
			c.Needed = c.Held
			met := "nothing waits, no preemptions"
			if th.TTFTTarget > 0 {
				met += ", TTFT p95 within " + th.TTFTTarget.String()
			}
			c.Advice = fmt.Sprintf("none: demand is met on %d × %s (%s)", c.Held, kind, met)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Capacity) int {
		if c := cmpString(a.Cluster, b.Cluster); c != 0 {
			return c
		}
		if c := cmpString(a.Model, b.Model); c != 0 {
			return c
		}
		if c := cmpString(a.GPUModel, b.GPUModel); c != 0 {
			return c
		}
		if c := boolInt(a.MIG) - boolInt(b.MIG); c != 0 {
			return c
		}
		return cmpString(a.MIGProfile, b.MIGProfile)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// modelFindings: consolidation (busy low, nothing waiting: free GPUs) and
// scale-out (unmet demand on busy GPUs) per model and kind of GPU, from
// the capacity advice.
func modelFindings(s *Snapshot, caps []Capacity, th Thresholds) []Finding {
	var out []Finding
	for _, c := range caps {
		if c.Delta == 0 {
			continue
		}
		wait := math.NaN() // not reported until a pod of the model reports it
		for i := range s.Pods {
			p := &s.Pods[i]
			if p.Model != c.Model || p.Cluster != c.Cluster {
				continue
			}
			if st := p.Waiting.stats(0, len(p.Waiting)); st.n > 0 {
				if math.IsNaN(wait) {
					wait = 0
				}
				wait += st.mean
			}
		}
		subj := Subject{Level: LevelModel, Cluster: c.Cluster, Model: c.Model}
		ev := []Evidence{{Signal: sigBusy, Stat: "mean", Value: c.MeanBusy, Query: s.Queries[sigBusy]},
			evidence(sigWaiting, "mean", wait, s.Queries[sigWaiting])}
		switch {
		case c.Delta < 0:
			out = append(out, Finding{Subject: subj, State: StateConsolidate, Severity: SeverityWarning, Confidence: 0.8,
				Since: s.Window.Start, GPUs: c.Delta, Evidence: ev,
				Summary: fmt.Sprintf("The model's %d × %s are %.0f%% busy on average with nothing waiting.", c.Held, c.Kind(), c.MeanBusy*100),
				Action:  fmt.Sprintf("Consolidate: %s.", c.Advice)})
		case c.Delta > 0:
			sev := SeverityWarning
			if c.MeanBusy > th.ScaleOutBusy {
				sev = SeverityCritical
			}
			out = append(out, Finding{Subject: subj, State: StateBacklog, Severity: sev, Confidence: 0.8,
				Since: s.Window.Start, GPUs: c.Delta, Evidence: ev,
				Summary: fmt.Sprintf("Demand is unmet on the model's %d × %s, %.0f%% busy: %s.", c.Held, c.Kind(), c.MeanBusy*100, strings.Join(c.Unmet, ", ")),
				Action:  fmt.Sprintf("Scale out: %s.", c.Advice)})
		}
	}
	return out
}

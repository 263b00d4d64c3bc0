package diagnose

import (
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// sigGatewayQueued is the catalog signal of the requests an inference
// gateway holds (llm-d's flow control, Dynamo's router queue).
const sigGatewayQueued = "gateway_queued_requests"

// GatewayQueue is one queue of an inference gateway over the window: the
// gateway pod, the model, InferencePool and fairness_id (tenant) it holds
// requests for, and the engine model the queue was attributed to.
type GatewayQueue struct {
	Cluster    string `json:"cluster,omitempty"`
	Namespace  string `json:"namespace"`
	Pod        string `json:"pod"`
	Instance   string `json:"instance"`
	Model      string `json:"model,omitempty"`
	Pool       string `json:"inference_pool,omitempty"`
	FairnessID string `json:"fairness_id,omitempty"`
	// Serves is the model of the engine pods the queue's demand is for:
	// the engines' model matching the gateway's (case aside, as Dynamo
	// lower-cases it), else the one model the engines of the gateway's
	// namespace serve; empty when neither says.
	Serves string `json:"serves,omitempty"`
	Queued Track  `json:"-"`
}

// gateways reads the gateway queue series into the snapshot and gives each
// engine pod its share of the queues attributed to its model: the queue
// over the model's pods, per step.
func (d *Diagnoser) gateways(s *Snapshot, m model.Matrix) {
	n := s.Window.Steps()
	byKey := map[string]int{}
	for _, ss := range m {
		if ss.Metric["pod"] == "" {
			continue
		}
		g := GatewayQueue{Cluster: string(ss.Metric[d.cluster]), Namespace: string(ss.Metric["namespace"]), Pod: string(ss.Metric["pod"]),
			Instance: string(ss.Metric["instance"]), Model: string(ss.Metric["model_name"]), Pool: string(ss.Metric["inference_pool"]),
			FairnessID: string(ss.Metric["fairness_id"])}
		k := strings.Join([]string{g.Cluster, g.Namespace, g.Pod, g.Instance, g.Model, g.Pool, g.FairnessID}, "\xff")
		i, ok := byKey[k]
		if !ok {
			g.Queued = newTrack(n)
			s.Gateways = append(s.Gateways, g)
			i = len(s.Gateways) - 1
			byKey[k] = i
		}
		fill(s.Gateways[i].Queued, s.Window, ss.Values, true)
	}
	slices.SortFunc(s.Gateways, func(a, b GatewayQueue) int {
		return strings.Compare(a.Cluster+"\xff"+a.Namespace+"\xff"+a.Pod+"\xff"+a.Model+"\xff"+a.FairnessID,
			b.Cluster+"\xff"+b.Namespace+"\xff"+b.Pod+"\xff"+b.Model+"\xff"+b.FairnessID)
	})
	attributeGateways(s)
}

// attributeGateways names the engine model each queue holds demand for and
// spreads each model's queue over its pods (GatewayQueued).
func attributeGateways(s *Snapshot) {
	if len(s.Gateways) == 0 {
		return
	}
	n := s.Window.Steps()
	models := map[string][]int{}  // cluster, model → pods
	byNS := map[string][]string{} // cluster, namespace → models served there
	for i := range s.Pods {
		p := &s.Pods[i]
		models[p.Cluster+"\xff"+p.Model] = append(models[p.Cluster+"\xff"+p.Model], i)
		ns := p.Cluster + "\xff" + p.Namespace
		if !slices.Contains(byNS[ns], p.Model) {
			byNS[ns] = append(byNS[ns], p.Model)
		}
	}
	total := map[string]Track{}
	for gi := range s.Gateways {
		g := &s.Gateways[gi]
		if g.Model != "" {
			for i := range s.Pods {
				if p := &s.Pods[i]; p.Cluster == g.Cluster && strings.EqualFold(p.Model, g.Model) {
					g.Serves = p.Model
					break
				}
			}
		}
		if ms := byNS[g.Cluster+"\xff"+g.Namespace]; g.Serves == "" && len(ms) == 1 {
			g.Serves = ms[0]
		}
		if g.Serves == "" {
			continue
		}
		k := g.Cluster + "\xff" + g.Serves
		t := total[k]
		if t == nil {
			t = newTrack(n)
			total[k] = t
		}
		for i := range n {
			if x := g.Queued.at(i); reported(x) {
				if !reported(t[i]) {
					t[i] = 0
				}
				t[i] += x
			}
		}
	}
	for k, t := range total {
		pods := models[k]
		for _, pi := range pods {
			share := newTrack(n)
			for i := range n {
				if reported(t[i]) {
					share[i] = t[i] / float64(len(pods))
				}
			}
			s.Pods[pi].GatewayQueued = share
		}
	}
}

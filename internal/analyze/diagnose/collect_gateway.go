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
// spreads each queue over the pods it serves (GatewayQueued): the pods of
// the gateway's namespace serving its model (case aside, as Dynamo
// lower-cases it), else the pods of that namespace when they serve one
// model (a queue without a model label), else the model's pods anywhere in
// the cluster. A queue none of these finds stays unattributed.
func attributeGateways(s *Snapshot) {
	if len(s.Gateways) == 0 {
		return
	}
	n := s.Window.Steps()
	for gi := range s.Gateways {
		g := &s.Gateways[gi]
		pods := gatewayPods(s, g)
		if len(pods) == 0 {
			continue
		}
		g.Serves = s.Pods[pods[0]].Model
		for _, pi := range pods {
			p := &s.Pods[pi]
			if p.GatewayQueued == nil {
				p.GatewayQueued = newTrack(n)
			}
			for i := range n {
				if x := g.Queued.at(i); reported(x) {
					if !reported(p.GatewayQueued[i]) {
						p.GatewayQueued[i] = 0
					}
					p.GatewayQueued[i] += x / float64(len(pods))
				}
			}
		}
	}
}

// gatewayPods are the indexes of the engine pods a gateway queue serves.
func gatewayPods(s *Snapshot, g *GatewayQueue) []int {
	var sameNS, sameModel, nsModels []int
	models := map[string]bool{}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Cluster != g.Cluster {
			continue
		}
		match := g.Model != "" && strings.EqualFold(p.Model, g.Model)
		if p.Namespace == g.Namespace {
			nsModels = append(nsModels, i)
			models[p.Model] = true
			if match {
				sameNS = append(sameNS, i)
			}
		}
		if match {
			sameModel = append(sameModel, i)
		}
	}
	switch {
	case len(sameNS) > 0:
		return sameNS
	case len(models) == 1 && (g.Model == "" || len(sameModel) == 0):
		return nsModels
	}
	return sameModel
}

// GatewayStatus is one gateway queue over the report's window: who it
// holds requests for and how many. Team is the team its fairness_id maps
// to (Options.TenantTeams), empty when it maps to none.
type GatewayStatus struct {
	Cluster    string  `json:"cluster,omitempty"`
	Namespace  string  `json:"namespace"`
	Pod        string  `json:"pod"`
	Pool       string  `json:"inference_pool,omitempty"`
	Model      string  `json:"model,omitempty"`
	Serves     string  `json:"serves,omitempty"`
	FairnessID string  `json:"fairness_id,omitempty"`
	Team       string  `json:"team,omitempty"`
	MeanQueued float64 `json:"mean_queued"`
	PeakQueued float64 `json:"peak_queued"`
}

// gatewayStatuses summarises the snapshot's gateway queues; tenants maps
// fairness_id to team. Queues with no value in the window are left out.
func gatewayStatuses(s *Snapshot, tenants map[string]string) []GatewayStatus {
	var out []GatewayStatus
	for _, g := range s.Gateways {
		st := g.Queued.stats(0, len(g.Queued))
		if st.n == 0 {
			continue
		}
		out = append(out, GatewayStatus{Cluster: g.Cluster, Namespace: g.Namespace, Pod: g.Pod, Pool: g.Pool, Model: g.Model,
			Serves: g.Serves, FairnessID: g.FairnessID, Team: tenants[g.FairnessID], MeanQueued: round(st.mean), PeakQueued: round(st.max)})
	}
	return out
}

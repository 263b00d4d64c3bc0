package web

import (
	"context"
	"math"
	"slices"

	"github.com/prometheus/common/model"
)

// gatewayPanels are the Serving page's inference-gateway panels: the
// requests gateways hold (no engine has seen them) per InferencePool and
// per tenant (fairness_id, which servescope.yml's tenant_teams maps to the
// team paying), and the EPP's pool saturation.
func gatewayPanels() []panel {
	return []panel{
		{ID: "gateway-queue-pool", Title: "Gateway queue per pool", Help: "requests held by inference gateways (llm-d flow control, Dynamo's router) that no engine has seen, per InferencePool; demand the engines' queues do not show",
			Optional: true, build: sumBy("gateway_queued_requests", "inference_pool", "requests")},
		{ID: "gateway-queue-tenant", Title: "Gateway queue per tenant", Help: "the same requests per fairness_id (the gateway's tenant; tenant_teams in servescope.yml names its team)",
			Optional: true, build: sumBy("gateway_queued_requests", "fairness_id", "requests")},
		{ID: "gateway-saturation", Title: "Gateway pool saturation", Help: "the EPP's saturation of each InferencePool; at 1 flow control holds requests", Optional: true, build: lines("gateway_pool_saturation", 0, "ratio", 1)},
	}
}

// sumBy draws one line per value of label, the signal summed over the
// series carrying it ("(none)" for series without it).
func sumBy(signal, label, unit string) func(context.Context, *env, *panelView) error {
	return func(ctx context.Context, e *env, v *panelView) error {
		m, pq, err := e.signalRange(ctx, signal, 0)
		v.Queries = append(v.Queries, pq)
		if err != nil || len(m) == 0 {
			return err
		}
		v.Line = layoutLines(groupSum(m, label), e.start, e.end, unit, "")
		return nil
	}
}

// groupSum sums the matrix per value of label and timestamp, skipping
// values that are not finite, one series per value in name order.
func groupSum(m model.Matrix, label string) []series {
	by := map[string]map[model.Time]float64{}
	for _, s := range m {
		name := string(s.Metric[model.LabelName(label)])
		if name == "" {
			name = "(none)"
		}
		if by[name] == nil {
			by[name] = map[model.Time]float64{}
		}
		for _, p := range s.Values {
			if x := float64(p.Value); !math.IsNaN(x) && !math.IsInf(x, 0) {
				by[name][p.Timestamp] += x
			}
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]series, 0, len(names))
	for _, n := range names {
		ts := make([]model.Time, 0, len(by[n]))
		for t := range by[n] {
			ts = append(ts, t)
		}
		slices.Sort(ts)
		s := series{Name: n}
		for _, t := range ts {
			s.Points = append(s.Points, point{T: t.Time(), V: by[n][t]})
		}
		out = append(out, s)
	}
	return out
}

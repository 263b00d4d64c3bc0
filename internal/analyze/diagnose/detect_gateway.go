package diagnose

import (
	"fmt"
	"math"
)

// detectGatewayBacklog: an inference gateway in front of the pod's model
// holds requests (the pod's share at least GatewayQueued) while the pod's
// GPUs are at least BacklogBusy active, sustained. The gateway holds them
// because every engine of its pool is saturated, so the engines' own queues
// stay short: the demand shows only at the gateway. The capacity advice
// counts it as unmet (report.go).
func detectGatewayBacklog(v *podView, _ *Snapshot) *Finding {
	th := v.th
	if v.p.GatewayQueued == nil {
		return nil
	}
	cond := func(i int) bool {
		return v.p.GatewayQueued.at(i) >= th.GatewayQueued && v.busy.at(i) >= th.BacklogBusy
	}
	share, since := v.sustained(cond)
	if share < th.SustainShare {
		return nil
	}
	busy := v.busy.stats(v.from, v.n).mean
	queued := v.p.GatewayQueued.stats(v.from, v.n).mean
	wait := v.p.Waiting.stats(v.from, v.n).mean
	waitText := "not reported"
	if !math.IsNaN(wait) {
		waitText = fmt.Sprintf("%.0f", wait)
	}
	f := v.finding(StateGatewayBacklog, SeverityWarning, v.confidenceBase*v.coverage(v.busy, v.p.GatewayQueued), since,
		fmt.Sprintf("The inference gateway holds %.0f requests for this pod's share on average while its engine is %.0f%% active and queues only %s itself: demand the engine never sees.", queued, busy*100, waitText),
		"Add replicas behind the gateway's pool; the engine's own queue understates the demand while the gateway holds requests.",
		evidence(sigGatewayQueued, "mean", queued, v.queries[sigGatewayQueued]), v.ev(sigWaiting, "mean", v.p.Waiting), v.ev(sigBusy, "mean", v.busy))
	if busy > th.ScaleOutBusy && len(v.gpus) > 0 {
		n := max(1, int(math.Ceil(float64(len(v.gpus))*busy/th.TargetBusy))-len(v.gpus))
		f.Severity, f.GPUs = SeverityCritical, n
		f.Action = fmt.Sprintf("Scale out by at least %d GPU(s) for this pod's share of the load, then re-measure: while the gateway holds requests, demand exceeds what is served.", n)
	}
	return &f
}

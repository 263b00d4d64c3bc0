package diagnose

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
)

// snapshotHealth reads the GPU health signals (health.Reader) over the
// snapshot's range into its GPUs.
func (d *Diagnoser) snapshotHealth(ctx context.Context, s *Snapshot, rng query.Range, gpu func(model.Metric) *GPU) error {
	gs, err := d.health.Read(ctx, d.q, rng, "")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, name := range health.Signals() {
		s.Queries[name] = d.health.Query(name)
	}
	for _, hg := range gs {
		g := gpu(model.Metric{d.cluster: model.LabelValue(hg.Cluster), "hostname": model.LabelValue(hg.Hostname),
			"uuid": model.LabelValue(hg.UUID), "GPU_I_ID": model.LabelValue(hg.MIG), "modelName": model.LabelValue(hg.ModelName)})
		if g.ModelName == "" {
			g.ModelName = hg.ModelName
		}
		g.Health = hg.Tracks
	}
	return nil
}

// verdict judges the GPU at the end of the snapshot (health.Judge: the
// one judgement every surface reads).
func (g *GPU) verdict(s *Snapshot, th Thresholds) health.Verdict {
	return health.Judge(g.Health, s.Window.Step, th.Health)
}

// unusableAt says whether GPU i of the snapshot is unusable.
func unusableAt(s *Snapshot, i int, th Thresholds) bool {
	return s.GPUs[i].verdict(s, th).Unusable
}

// holdsUnusable says whether one of the pod's GPUs is unusable: its
// GPUs are neither free capacity nor evidence of demand.
func holdsUnusable(s *Snapshot, p *Pod, th Thresholds) bool {
	return slices.ContainsFunc(p.GPUs, func(i int) bool { return unusableAt(s, i, th) })
}

// drainAction is the action for an unusable GPU on a node.
func drainAction(hostname string) string {
	node := hostname
	if node == "" {
		node = "the node"
	}
	return fmt.Sprintf("Drain %s (kubectl drain %s --ignore-daemonsets --delete-emptydir-data) so its pods restart on healthy GPUs; "+
		"then reset the GPU (nvidia-smi -r) or, after a row-remapping failure or repeated XIDs that a reset does not clear, have it replaced. "+
		"Until then do not count it as free capacity.", node, node)
}

// healthEvidence is the evidence of a verdict: the values behind each
// reason, with the queries they came from.
func healthEvidence(v health.Verdict, q map[string]string) []Evidence {
	ev := []Evidence{evidence(health.SigRemapFailure, "last", v.RemapFailure, q[health.SigRemapFailure]),
		evidence(health.SigRows, "increase", v.RowsIncrease, q[health.SigRows]),
		evidence(health.SigXIDCount, "max", v.XIDsInWindow, q[health.SigXIDCount])}
	for _, f := range v.Failing {
		watch, code, _ := strings.Cut(f, " ")
		ev = append(ev, Evidence{Signal: health.SigStatus + "{health_watch=" + watch + ",health_error_code=" + code + "}", Stat: "last",
			Value: health.HealthFail, Query: q[health.SigStatus]})
	}
	for _, x := range v.XIDs {
		ev = append(ev, Evidence{Signal: "xid{code=" + strconv.Itoa(x) + "}", Stat: "reported", Value: float64(x), Query: q[health.SigXIDCount]})
	}
	return ev
}

// detectUnusableGPU: one of the pod's GPUs failed for good (health.Judge:
// a row-remapping failure, a failing DCGM health check, uncorrectable
// remapped rows rising, or repeated XIDs). The pod cannot serve from it.
func detectUnusableGPU(v *podView, s *Snapshot) *Finding {
	var bad []string
	var ev []Evidence
	since := -1
	for _, g := range v.gpus {
		vd := g.verdict(s, v.th)
		if !vd.Unusable {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s on %s (%s: %s)", g.UUID, g.Hostname, health.XIDText(vd.XIDs), strings.Join(vd.Reasons, "; ")))
		ev = append(ev, healthEvidence(vd, v.queries)...)
		if since < 0 || vd.Since < since {
			since = vd.Since
		}
	}
	if len(bad) == 0 {
		return nil
	}
	host := ""
	if len(v.gpus) > 0 {
		host = v.gpus[0].Hostname
	}
	f := v.finding(StateUnusableGPU, SeverityCritical, v.confidenceBase, s.Window.At(max(0, since)),
		fmt.Sprintf("The pod holds an unusable GPU: %s.", strings.Join(bad, "; ")), drainAction(host), ev...)
	return &f
}

// unusableGPUs lists the unusable GPUs of the snapshot (with the pod
// holding each) and their GPU findings.
func unusableGPUs(s *Snapshot, th Thresholds) ([]health.Unusable, []Finding) {
	var list []health.Unusable
	var fs []Finding
	for i := range s.GPUs {
		g := &s.GPUs[i]
		vd := g.verdict(s, th)
		if !vd.Unusable {
			continue
		}
		since := s.Window.At(max(0, vd.Since))
		list = append(list, health.Unusable{Cluster: g.Cluster, Hostname: g.Hostname, UUID: g.UUID, MIG: g.MIG, ModelName: g.ModelName,
			Namespace: g.Namespace, Pod: g.Pod, XIDs: vd.XIDs, Reasons: vd.Reasons, Since: since})
		held := "held by no pod"
		if g.Pod != "" {
			held = "held by " + g.Namespace + "/" + g.Pod
		}
		conf := 0.9
		if math.IsNaN(vd.XIDsInWindow) && len(vd.Failing) == 0 && !(vd.RemapFailure >= 1) && !(vd.RowsIncrease > 0) {
			conf = 0.7 // only the last-error gauge: one code cannot count XIDs
		}
		fs = append(fs, Finding{Subject: g.Subject(), State: StateUnusableGPU, Severity: SeverityCritical, Confidence: conf, Since: since,
			Summary: fmt.Sprintf("GPU unusable (%s, %s): %s.", health.XIDText(vd.XIDs), held, strings.Join(vd.Reasons, "; ")),
			Action:  drainAction(g.Hostname), Evidence: healthEvidence(vd, s.Queries)})
	}
	return list, fs
}

package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/servescope/servescope/internal/analyze/health"
)

// unusableHelp is the Unusable GPUs panel's help, on the dashboard and in
// the report.
const unusableHelp = "GPUs judged unusable at the end of the range (row remapping failed, DCGM health check failing, uncorrectable rows rising, repeated XIDs): drain their nodes; they are not free capacity"

// unusableGPUs is the GPUs page's Unusable GPUs panel: the fleet
// summary's list, the diagnosis' one judgement (health.Judge).
func unusableGPUs(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Fleet == nil {
		return fmt.Errorf("unusable GPUs: %w", errUnavailable)
	}
	at, window := e.diagnosis(ctx, v)
	f, err := e.h.opts.Fleet.Fleet(ctx, at, window)
	if err != nil {
		return fmt.Errorf("unusable GPUs: %w", err)
	}
	if f != nil && f.Model != nil { // no fleet model: no data in the range
		v.Table = unusableTable(f.Unusable)
	}
	return nil
}

// unusable is the report's Unusable GPUs panel.
func (s *reportSources) unusable(ctx context.Context, e *env, v *panelView) error {
	f, err := s.summary(ctx, e)
	if err != nil || f == nil || f.Model == nil {
		return err
	}
	v.Table = unusableTable(f.Unusable)
	return nil
}

// unusableTable lists unusable GPUs with their XID codes, one a row.
func unusableTable(us []health.Unusable) *table {
	t := &table{Head: []string{"GPU", "node", "pod", "XID", "why", "since"}}
	for _, u := range us {
		gpu := u.UUID
		if u.MIG != "" {
			gpu += "/" + u.MIG
		}
		if u.Cluster != "" {
			gpu = u.Cluster + ":" + gpu
		}
		pod := "(none)"
		if u.Pod != "" {
			pod = u.Namespace + "/" + u.Pod
		}
		t.Rows = append(t.Rows, []string{gpu, u.Hostname, pod, health.XIDText(u.XIDs), strings.Join(u.Reasons, "; "), u.Since.UTC().Format("2006-01-02 15:04:05Z")})
	}
	if len(t.Rows) == 0 {
		t.Rows = [][]string{{"none", "", "", "", "every GPU that reports its health is usable", ""}}
	}
	return t
}

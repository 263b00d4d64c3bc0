package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/present/web"
)

// QueueRows implements web.Queues from the same evaluation as the
// findings, fleet and costs.
func (v *fleetView) QueueRows(ctx context.Context, now time.Time, window time.Duration) ([]web.QueueRow, error) {
	e, err := v.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	return queueRows(e.rep.Queues), nil
}

// queueRows formats the diagnosis's queue view (diagnose.QueueStatus, its
// one computation) for the dashboard and the report.
func queueRows(qs []diagnose.QueueStatus) []web.QueueRow {
	num := diagnose.FormatNumber
	out := make([]web.QueueRow, 0, len(qs))
	for _, q := range qs {
		r := web.QueueRow{Queue: q.Subject.String(), Cohort: q.Cohort, Teams: strings.Join(q.Teams, ", "), State: string(q.Primary),
			WaitP50: q.WaitP50.Seconds(), WaitP95: q.WaitP95.Seconds(), UntilReadyP95: q.AdmittedUntilReadyP95.Seconds(),
			PendingGPUs: q.PendingGPUs.Number(), Borrowed: num(q.BorrowedGPUHours), Lent: num(q.LentGPUHours)}
		if q.Subject.Cluster != "" {
			r.Queue = q.Subject.Cluster + ":" + r.Queue
		}
		var idle, cohort []string
		for _, f := range q.Flavors {
			idle = append(idle, f.Flavor+" "+f.Idle.Number())
			if q.Cohort != "" {
				cohort = append(cohort, f.Flavor+" "+f.CohortIdle.Number())
			}
		}
		r.Idle, r.CohortIdle = strings.Join(idle, "; "), strings.Join(cohort, "; ")
		switch {
		case !q.UnadmittedReported:
			r.Unadmitted = "not reported"
		case len(q.Unadmitted) == 0:
			r.Unadmitted = "none"
		default:
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(q.Unadmitted)) {
				parts = append(parts, fmt.Sprintf("%s: %s", k, num(q.Unadmitted[k])))
			}
			r.Unadmitted = strings.Join(parts, "; ")
		}
		out = append(out, r)
	}
	return out
}

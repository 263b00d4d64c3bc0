package web

import (
	"context"
	"fmt"
	"time"
)

// QueueRow is one Kueue ClusterQueue's view as the dashboard and the
// report show it, formatted by the caller from the diagnosis's one
// computation (values Kueue does not report read "not reported").
type QueueRow struct {
	Queue, Cohort, Teams, State string
	// WaitP50 and WaitP95 are the admission wait; UntilReadyP95 the time
	// from admission to ready pods (waitForPodsReady).
	WaitP50, WaitP95, UntilReadyP95 string
	// PendingGPUs are asked for and not admitted; Idle the queue's own
	// idle quota and CohortIdle that of its cohort peers, per flavor.
	PendingGPUs, Idle, CohortIdle string
	// Unadmitted counts workloads by reason/underlying cause.
	Unadmitted string
	// Borrowed and Lent are GPU-hours over the window.
	Borrowed, Lent string
}

// Queues supplies the queue view over the window ending at now.
type Queues interface {
	QueueRows(ctx context.Context, now time.Time, window time.Duration) ([]QueueRow, error)
}

// queueTable is the queue view: why work waits, per ClusterQueue.
func queueTable(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Queues == nil {
		return fmt.Errorf("queue view: %w", errUnavailable)
	}
	at, window := e.diagnosis(ctx, v)
	rows, err := e.h.opts.Queues.QueueRows(ctx, at, window)
	if err != nil {
		return fmt.Errorf("queue view: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	t := &table{Head: []string{"ClusterQueue", "cohort", "teams", "state", "admission wait p50", "p95", "admitted→ready p95",
		"GPUs pending", "idle quota", "idle in cohort", "unadmitted (reason/cause)", "borrowed GPU-h", "lent GPU-h"}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Queue, r.Cohort, r.Teams, r.State, r.WaitP50, r.WaitP95, r.UntilReadyP95,
			r.PendingGPUs, r.Idle, r.CohortIdle, r.Unadmitted, r.Borrowed, r.Lent})
	}
	v.Table = t
	return nil
}

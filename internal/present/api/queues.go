package api

import (
	"context"
	"net/http"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// QueuesData is the data of /api/v1/queues: each Kueue ClusterQueue's
// view (admission wait, pending GPUs beside idle quota in its cohort,
// unadmitted workloads by reason, borrowed and lent GPU-hours) and the
// queue findings, from the same diagnosis as /api/v1/diagnoses.
type QueuesData struct {
	At       time.Time              `json:"at"`
	Window   time.Duration          `json:"window"`
	Queues   []diagnose.QueueStatus `json:"queues"`
	Findings []diagnose.Finding     `json:"findings"`
}

// Queues returns the handler of /api/v1/queues, with the parameters of
// /api/v1/diagnoses (time, since, cluster, timeout). Register it with
// Handle("/api/v1/queues", a.Queues(d)).
func (a *API) Queues(d Diagnoser) http.Handler {
	return a.windowed(func(ctx context.Context, r *http.Request, at time.Time, window time.Duration) (any, []string, error) {
		rep, err := d.DiagnoseCluster(ctx, r.FormValue("cluster"), at, window)
		if err != nil {
			return nil, nil, err
		}
		out := QueuesData{At: rep.At, Window: rep.Window, Queues: rep.Queues, Findings: []diagnose.Finding{}}
		if out.Queues == nil {
			out.Queues = []diagnose.QueueStatus{}
		}
		for _, f := range rep.Findings {
			if f.Subject.Level == diagnose.LevelQueue {
				out.Findings = append(out.Findings, f)
			}
		}
		return out, nil, nil
	})
}

package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/present/api"
)

type queueDiagnoser struct{ rep *diagnose.Report }

func (q queueDiagnoser) DiagnoseCluster(context.Context, string, time.Time, time.Duration) (*diagnose.Report, error) {
	return q.rep, nil
}

// TestQueues: /api/v1/queues answers the queue view and only the queue
// findings; a value Kueue does not report is null, never 0.
func TestQueues(t *testing.T) {
	t.Parallel()
	cq := diagnose.Subject{Level: diagnose.LevelQueue, ClusterQueue: "nlp"}
	rep := &diagnose.Report{
		Findings: []diagnose.Finding{
			{Subject: cq, State: diagnose.StateStrandedQuota},
			{Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "a", Pod: "b"}, State: diagnose.StateIdle},
		},
		Queues: []diagnose.QueueStatus{{Subject: cq, Primary: diagnose.StateStrandedQuota, WaitP95: diagnose.Reading{Value: 600, Reported: true}}},
	}
	a := api.New(api.Options{Now: time.Now})
	a.Handle("/api/v1/queues", a.Queues(queueDiagnoser{rep}))
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/queues?since=10m", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("code %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{`"cluster_queue":"nlp"`, `"admission_wait_p95_seconds":600`, `"pending_gpus":null`, `"state":"stranded_quota"`} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, `"idle"`) {
		t.Errorf("a pod finding in the queue answer: %s", body)
	}
}

package diagnose_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// checkQueueView checks one number of a queue's view: x.state names the
// field (wait_p50, wait_p95, until_ready_p95, pending, inadmissible,
// pending_gpus, borrowed, lent, unadmitted:<reason/cause>, and per flavor
// nominal:<flavor>, reserved:<flavor>, idle:<flavor>, cohort_idle:<flavor>,
// borrowed:<flavor>, lent:<flavor>), x.text the value or "not-reported".
func checkQueueView(t *testing.T, where string, rep *diagnose.Report, x expectation) {
	t.Helper()
	var q *diagnose.QueueStatus
	for i := range rep.Queues {
		if subjectName(rep.Queues[i].Subject) == x.subject {
			q = &rep.Queues[i]
		}
	}
	if q == nil {
		t.Errorf("%s: no queue %s in the view", where, x.subject)
		return
	}
	field, flavor, _ := strings.Cut(x.state, ":")
	var got diagnose.Reading
	var fl *diagnose.QueueFlavorStatus
	for i := range q.Flavors {
		if q.Flavors[i].Flavor == flavor {
			fl = &q.Flavors[i]
		}
	}
	if flavor != "" && field != "unadmitted" && fl == nil {
		t.Errorf("%s: queue %s has no flavor %s", where, x.subject, flavor)
		return
	}
	switch field {
	case "wait_p50":
		got = q.WaitP50
	case "wait_p95":
		got = q.WaitP95
	case "until_ready_p95":
		got = q.AdmittedUntilReadyP95
	case "pending":
		got = q.Pending
	case "inadmissible":
		got = q.Inadmissible
	case "pending_gpus":
		got = q.PendingGPUs
	case "unadmitted":
		v, ok := q.Unadmitted[flavor]
		got = diagnose.Reading{Value: v, Reported: q.UnadmittedReported && (ok || q.Unadmitted != nil)}
	case "borrowed", "lent":
		v := map[string]float64{"borrowed": q.BorrowedGPUHours, "lent": q.LentGPUHours}[field]
		if fl != nil {
			v = map[string]float64{"borrowed": fl.BorrowedGPUHours, "lent": fl.LentGPUHours}[field]
		}
		got = diagnose.Reading{Value: v, Reported: true}
	case "nominal":
		got = fl.Nominal
	case "reserved":
		got = fl.Reserved
	case "idle":
		got = fl.Idle
	case "cohort_idle":
		got = fl.CohortIdle
	default:
		t.Fatalf("%s: unknown view field %q", where, x.state)
	}
	if x.text == "not-reported" {
		if got.Reported {
			t.Errorf("%s: %s %s = %g, want not reported", where, x.subject, x.state, got.Value)
		}
		return
	}
	want, err := strconv.ParseFloat(x.text, 64)
	if err != nil {
		t.Fatalf("%s: view value %q: %v", where, x.text, err)
	}
	if !got.Reported || math.Abs(got.Value-want) > 0.01*max(1, math.Abs(want)) {
		t.Errorf("%s: %s %s = %+v, want %g", where, x.subject, x.state, got, want)
	}
}

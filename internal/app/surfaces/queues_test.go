package surfaces

import (
	"bytes"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// The stranded-quota history: nlp's jobs (2 GPUs every 3 minutes, no
// borrowing) fill its 8 GPUs of quota within minutes of the warm-up, then
// wait while vision leaves 6 of its 8 idle; queueWindow, the window every
// surface reads, is the whole history (the dashboard's queue view reads the
// catalog's recorded series, evaluated over the history only).
const (
	queueWarmup  = 19 * time.Minute
	queueHistory = 6 * time.Minute
	queueWindow  = 6 * time.Minute
)

// queueYML is the config `serve` runs with: scraping and rules every 30s
// and 1m, as the backfill wrote them.
const queueYML = "global: {scrape_interval: 30s, evaluation_interval: 1m}\n"

// TestQueuesAgree: on the stranded-quota scenario, each ClusterQueue's
// view (state, admission wait, workloads and GPUs pending, quota, idle
// quota beside it in the cohort, unadmitted reasons, borrowed and lent
// GPU-hours) is the same on every surface that shows it — the `diagnose`
// command, /api/v1/queues, /api/v1/diagnoses, the dashboard's Queues &
// teams page, the report and `top` — because they all read
// diagnose.QueueStatus from one diagnosis; and where the simulator's truth
// knows a figure (the state, the nominal quota, what vision holds), it
// agrees.
func TestQueuesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 25 minutes of a 16-GPU fleet, 6 of them written")
	}
	t.Parallel()
	s := serveScenario(t, "stranded-quota", 0, queueHistory, queueWarmup, time.Minute, true, queueYML)
	ctx := t.Context()
	at := s.end

	// The one computation: the `diagnose` command's report.
	rep, err := app.Diagnose(ctx, app.DiagnoseOptions{Server: s.url, Since: queueWindow, At: at, Cost: s.settings.Cost(), Thresholds: s.settings.Thresholds})
	if err != nil {
		t.Fatal(err)
	}
	ref := rep.Queues
	if len(ref) != 2 {
		t.Fatalf("diagnose: %d ClusterQueues, want nlp and vision: %+v", len(ref), ref)
	}
	for _, q := range ref {
		t.Logf("diagnose: %+v", q)
	}

	// The JSON surfaces carry the QueueStatus itself: equal to the last bit.
	v := url.Values{"time": {at.Format(time.RFC3339)}, "since": {model.Duration(queueWindow).String()}}.Encode()
	var qs api.QueuesData
	proc.GetAPI(t, s.url+"/api/v1/queues?"+v, &qs)
	var dg struct {
		Queues []diagnose.QueueStatus `json:"queues"`
	}
	proc.GetAPI(t, s.url+"/api/v1/diagnoses?"+v, &dg)
	for name, got := range map[string][]diagnose.QueueStatus{"/api/v1/queues": qs.Queues, "/api/v1/diagnoses": dg.Queues} {
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("%s: queues\n%+v\nthe diagnosis says\n%+v", name, got, ref)
		}
	}
	// /api/v1/queues's findings are the diagnosis's queue findings.
	var want []string
	for _, f := range rep.Findings {
		if f.Subject.Level == diagnose.LevelQueue {
			want = append(want, f.Subject.String()+" "+string(f.State))
		}
	}
	var got []string
	for _, f := range qs.Findings {
		got = append(got, f.Subject.String()+" "+string(f.State))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(want) == 0 {
		t.Errorf("/api/v1/queues findings %v, the diagnosis's queue findings %v (want some)", got, want)
	}

	// The dashboard's queue view and the report's: the same table.
	page := getPage(t, s.url+"/queues?"+url.Values{"range": {model.Duration(queueWindow).String()}, "end": {at.Format(time.RFC3339)}}.Encode())
	checkQueueTable(t, "dashboard", byHead(htmlTable(t, page, "queue-view")), ref)
	var rb bytes.Buffer
	if err := app.WriteReport(ctx, &rb, app.ReportOptions{Server: s.url, Window: queueWindow, At: at, Format: web.FormatMarkdown, Cost: s.settings.Cost()}); err != nil {
		t.Fatal(err)
	}
	checkQueueTable(t, "report", byHead(mdTable(t, rb.String(), "Queues")), ref)

	// top's queue line: the queues that are not healthy, their wait p95 and
	// GPUs pending.
	top, _, err := app.NewTop(ctx, app.TopOptions{Server: s.url, Interval: scrapeEvery, Window: queueWindow, Cost: s.settings.Cost(), Thresholds: s.settings.Thresholds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := top.Rows(ctx, at); err != nil {
		t.Fatal(err)
	}
	checkTopQueues(t, top.QueueLine(), ref)

	checkQueueTruth(t, ref, s.truth, at)
}

// checkQueueTable compares a queue table (the dashboard's or the
// report's) with the diagnosis's queues, to the printed precision.
func checkQueueTable(t *testing.T, surface string, rows []map[string]string, ref []diagnose.QueueStatus) {
	t.Helper()
	if len(rows) != len(ref) {
		t.Fatalf("%s: %d queue rows, the diagnosis %d: %v", surface, len(rows), len(ref), rows)
	}
	for i, q := range ref {
		r := rows[i]
		name := surface + " " + q.Subject.ClusterQueue
		if r["ClusterQueue"] != q.Subject.String() || r["cohort"] != q.Cohort || r["teams"] != strings.Join(q.Teams, ", ") || r["state"] != string(q.Primary) {
			t.Errorf("%s: queue, cohort, teams, state %q %q %q %q; the diagnosis %q %q %v %q", name,
				r["ClusterQueue"], r["cohort"], r["teams"], r["state"], q.Subject, q.Cohort, q.Teams, q.Primary)
		}
		seconds(t, name+" admission wait p50", r["admission wait p50"], q.WaitP50)
		seconds(t, name+" admission wait p95", r["p95"], q.WaitP95)
		seconds(t, name+" admitted→ready p95", r["admitted→ready p95"], q.AdmittedUntilReadyP95)
		number(t, name+" GPUs pending", r["GPUs pending"], q.PendingGPUs)
		idle, cohort := perFlavor(t, name+" idle quota", r["idle quota"]), perFlavor(t, name+" idle in cohort", r["idle in cohort"])
		for _, f := range q.Flavors {
			number(t, name+" "+f.Flavor+" idle quota", idle[f.Flavor], f.Idle)
			if q.Cohort != "" {
				number(t, name+" "+f.Flavor+" idle in cohort", cohort[f.Flavor], f.CohortIdle)
			}
		}
		if len(idle) != len(q.Flavors) {
			t.Errorf("%s: idle quota %q, the diagnosis has %d flavors", name, r["idle quota"], len(q.Flavors))
		}
		number(t, name+" borrowed GPU-h", r["borrowed GPU-h"], diagnose.Reading{Value: q.BorrowedGPUHours, Reported: true})
		number(t, name+" lent GPU-h", r["lent GPU-h"], diagnose.Reading{Value: q.LentGPUHours, Reported: true})
		checkUnadmitted(t, name, r["unadmitted (reason/cause)"], q)
	}
}

// seconds compares a printed duration (rounded to the second) with a
// reading in seconds.
func seconds(t *testing.T, what, cell string, want diagnose.Reading) {
	t.Helper()
	printed(t, what, cell, want, func(s string) (float64, error) {
		d, err := time.ParseDuration(s)
		return d.Seconds(), err
	}, 0.5)
}

// number compares a printed number (4 significant digits,
// diagnose.Reading.Number) with a reading.
func number(t *testing.T, what, cell string, want diagnose.Reading) {
	t.Helper()
	printed(t, what, cell, want, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, 5e-3*math.Abs(want.Value)+1e-9)
}

// printed compares a cell with a reading: "not reported" when it is not,
// else its value parsed within tol.
func printed(t *testing.T, what, cell string, want diagnose.Reading, parse func(string) (float64, error), tol float64) {
	t.Helper()
	if !want.Reported || cell == "not reported" {
		if want.Reported || cell != "not reported" {
			t.Errorf("%s: %q, the diagnosis %+v", what, cell, want)
		}
		return
	}
	x, err := parse(cell)
	if err != nil {
		t.Errorf("%s: %q: %v", what, cell, err)
		return
	}
	if math.Abs(x-want.Value) > tol {
		t.Errorf("%s: %q, the diagnosis %g", what, cell, want.Value)
	}
}

// perFlavor reads "h100 6; a100 2".
func perFlavor(t *testing.T, what, cell string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if cell == "" {
		return out
	}
	for _, p := range strings.Split(cell, "; ") {
		fl, v, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("%s: %q", what, cell)
			continue
		}
		out[fl] = v
	}
	return out
}

func checkUnadmitted(t *testing.T, name, cell string, q diagnose.QueueStatus) {
	t.Helper()
	switch {
	case !q.UnadmittedReported:
		if cell != "not reported" {
			t.Errorf("%s unadmitted: %q, the diagnosis: not reported", name, cell)
		}
	case len(q.Unadmitted) == 0:
		if cell != "none" {
			t.Errorf("%s unadmitted: %q, the diagnosis: none", name, cell)
		}
	default:
		parts := strings.Split(cell, "; ")
		if len(parts) != len(q.Unadmitted) {
			t.Errorf("%s unadmitted: %q, the diagnosis %v", name, cell, q.Unadmitted)
		}
		for _, p := range parts {
			k, v, _ := strings.Cut(p, ": ")
			want, ok := q.Unadmitted[k]
			if !ok {
				t.Errorf("%s unadmitted: %q not in the diagnosis's %v", name, k, q.Unadmitted)
				continue
			}
			number(t, name+" unadmitted "+k, v, diagnose.Reading{Value: want, Reported: true})
		}
	}
}

var topQueue = regexp.MustCompile(`(\S+) (\S+) \(wait p95 ([^,]+), GPUs pending ([^)]+)\)`)

// checkTopQueues compares top's queue line with the diagnosis's queues:
// every queue not healthy named with its state, wait p95 and GPUs
// pending, then the count of healthy ones.
func checkTopQueues(t *testing.T, line string, ref []diagnose.QueueStatus) {
	t.Helper()
	t.Logf("top: %s", line)
	got := map[string][]string{}
	for _, m := range topQueue.FindAllStringSubmatch(line, -1) {
		got[m[1]] = m[2:]
	}
	healthy := 0
	for _, q := range ref {
		if q.Primary == diagnose.StateHealthy || q.Primary == "" {
			healthy++
			continue
		}
		g, ok := got[q.Subject.ClusterQueue]
		if !ok {
			t.Errorf("top: %q does not name %s (%s)", line, q.Subject.ClusterQueue, q.Primary)
			continue
		}
		delete(got, q.Subject.ClusterQueue)
		if g[0] != string(q.Primary) {
			t.Errorf("top: %s %s, the diagnosis %s", q.Subject.ClusterQueue, g[0], q.Primary)
		}
		seconds(t, "top "+q.Subject.ClusterQueue+" wait p95", g[1], q.WaitP95)
		number(t, "top "+q.Subject.ClusterQueue+" GPUs pending", g[2], q.PendingGPUs)
	}
	if len(got) > 0 {
		t.Errorf("top: %q names queues the diagnosis finds healthy: %v", line, got)
	}
	if healthy > 0 && !strings.HasSuffix(line, strconv.Itoa(healthy)+" healthy") {
		t.Errorf("top: %q, want %d healthy", line, healthy)
	}
}

// checkQueueTruth compares the diagnosis's queues with the simulator's:
// the state of most of the window's last minutes, the nominal quota (the
// team's reserved GPU-hours over the simulated time), and the idle quota
// of a queue whose pods hold all it admitted (GPUs its pods held in the
// last minute).
func checkQueueTruth(t *testing.T, ref []diagnose.QueueStatus, truth sim.Truth, at time.Time) {
	t.Helper()
	hours := truth.Now.Sub(truth.Start).Hours()
	teams := map[string]sim.TeamTruth{}
	for _, tt := range truth.Teams {
		teams[tt.Team] = tt
	}
	for _, qt := range truth.Queues {
		var q *diagnose.QueueStatus
		for i := range ref {
			if ref[i].Subject.ClusterQueue == qt.ClusterQueue {
				q = &ref[i]
			}
		}
		if q == nil {
			t.Errorf("the diagnosis has no queue %s (truth %+v)", qt.ClusterQueue, qt)
			continue
		}
		// The truth's state over the window's last 5 minutes.
		n := map[sim.State]int{}
		for _, m := range qt.Minutes {
			if m.Time.After(at.Add(-5*time.Minute)) && !m.Time.After(at) {
				n[m.State]++
			}
		}
		best, most := sim.StateHealthy, 0
		for st, c := range n {
			if c > most {
				best, most = st, c
			}
		}
		t.Logf("truth %s: last 5 minutes %v", qt.ClusterQueue, n)
		if string(best) != string(q.Primary) {
			t.Errorf("%s: the diagnosis says %s, the truth %s over the last 5 minutes (%v)", qt.ClusterQueue, q.Primary, best, n)
		}
		tt := teams[qt.Team]
		nominal := tt.ReservedGPUHours / hours
		if len(q.Flavors) != 1 || !q.Flavors[0].Nominal.Reported || math.Abs(q.Flavors[0].Nominal.Value-nominal) > 0.01 {
			t.Errorf("%s: nominal quota %+v, the truth %g GPUs", qt.ClusterQueue, q.Flavors, nominal)
		}
		if qt.Team == "vision" && len(tt.Minutes) > 0 {
			held := tt.Minutes[len(tt.Minutes)-1].AllocatedGPUHours * 60
			if f := q.Flavors[0]; !f.Idle.Reported || math.Abs(f.Idle.Value-(nominal-held)) > 0.01 {
				t.Errorf("vision: idle quota %+v, the truth %g nominal − %g held", f.Idle, nominal, held)
			}
		}
	}
}

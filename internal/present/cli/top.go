package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/schema"
)

// TopOptions configure a Top.
type TopOptions struct {
	// Querier is the backend: a running servescope or any
	// Prometheus-compatible API (query.Querier satisfies it).
	Querier diagnose.Querier
	// Catalog supplies every signal's query.
	Catalog *schema.Catalog
	// Recorded selects servescope's recorded series instead of the full
	// queries over raw series.
	Recorded bool
	// Step is the resolution of the live values, normally the refresh
	// interval: each read looks at most one step back. Zero means the
	// thresholds' step.
	Step time.Duration
	// Window is the diagnosis window ending at the read; zero means 15m.
	Window time.Duration
	// Thresholds of the diagnosis; the zero value means the defaults.
	Thresholds diagnose.Thresholds
	// Fleet, if set, puts the fleet model's GPUs and busy over the window
	// in the title (the same figures as every other surface); the Querier
	// must then answer instant queries too.
	Fleet *fleet.Calculator
}

// Top reads the rows of `servescope top`: one per engine pod, with its
// current signals and its diagnosis. The values come from a snapshot one
// step long; the diagnosis from the diagnoser over the window, read again
// only when the window's end has moved by a diagnosis step. Rows is safe
// for concurrent use.
type Top struct {
	live, diag *diagnose.Diagnoser
	step       time.Duration
	window     time.Duration

	mu       sync.Mutex
	diagEnd  time.Time                    // end (truncated) of the cached diagnosis
	fleet    string                       // the fleet line of the cached diagnosis
	queues   string                       // the queue line of the cached diagnosis
	diagnose map[podKey]diagnose.State    // each pod's primary state at diagEnd
	severity map[podKey]diagnose.Severity // the primary finding's severity
}

// podKey identifies a pod as the snapshot does.
type podKey struct{ cluster, namespace, pod, instance string }

// TopRow is one engine pod's line. Ratios are in [0, 1]; NaN means the
// signal had no value.
type TopRow struct {
	// Cluster is the pod's cluster label; empty without one.
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Instance  string `json:"instance"`
	Model     string `json:"model"`
	// Role is the pod's serving role in a disaggregated deployment
	// (prefill, decode, unified, ...); empty when unknown.
	Role string `json:"role,omitempty"`
	// GPUs the pod holds (through the GPU → pod join).
	GPUs int `json:"gpus"`
	// Busy and MemoryBandwidth are the means over the pod's GPUs.
	Busy            float64 `json:"busy"`
	MemoryBandwidth float64 `json:"memory_bandwidth"`
	KVUsage         float64 `json:"kv_usage"`
	Running         float64 `json:"running"`
	Waiting         float64 `json:"waiting"`
	TTFTp95         float64 `json:"ttft_p95_seconds"`
	TokensPerSecond float64 `json:"generation_tokens_per_second"`
	// Diagnosis is the pod's primary state over the window; empty when the
	// diagnosis does not know the pod yet.
	Diagnosis diagnose.State    `json:"diagnosis,omitempty"`
	Severity  diagnose.Severity `json:"severity,omitempty"`
}

// NewTop checks the options and prepares the queries.
func NewTop(o TopOptions) (*Top, error) {
	if o.Querier == nil || o.Catalog == nil {
		return nil, errors.New("top: Querier and Catalog are required")
	}
	th := o.Thresholds
	if th == (diagnose.Thresholds{}) {
		th = diagnose.DefaultThresholds()
	}
	if o.Window == 0 {
		o.Window = 15 * time.Minute
	}
	if o.Window < th.Step {
		return nil, fmt.Errorf("top: window %s is shorter than the diagnosis step %s", o.Window, th.Step)
	}
	if o.Step == 0 {
		o.Step = th.Step
	}
	if o.Step < 0 {
		return nil, fmt.Errorf("top: step %s is negative", o.Step)
	}
	diag, err := diagnose.New(diagnose.Options{Querier: o.Querier, Catalog: o.Catalog, Recorded: o.Recorded, Thresholds: th, Fleet: o.Fleet, ClusterLabel: o.Catalog.ClusterLabel()})
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	// The live snapshot only reads values; its thresholds differ from the
	// diagnosis's in the step alone.
	liveTh := th
	liveTh.Step = o.Step
	liveTh.Sustain = max(liveTh.Sustain, o.Step)
	live, err := diagnose.New(diagnose.Options{Querier: o.Querier, Catalog: o.Catalog, Recorded: o.Recorded, Thresholds: liveTh, ClusterLabel: o.Catalog.ClusterLabel()})
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	return &Top{live: live, diag: diag, step: o.Step, window: o.Window}, nil
}

// Window is the diagnosis window.
func (t *Top) Window() time.Duration { return t.window }

// Rows reads every engine pod's current values at at, and its diagnosis
// over the window ending at at.
func (t *Top) Rows(ctx context.Context, at time.Time) ([]TopRow, error) {
	s, err := t.live.Snapshot(ctx, at, t.step)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	states, severities, err := t.diagnosis(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("top: %w", err)
	}
	rows := make([]TopRow, 0, len(s.Pods))
	for i := range s.Pods {
		p := &s.Pods[i]
		k := podKey{p.Cluster, p.Namespace, p.Pod, p.Instance}
		r := TopRow{Cluster: p.Cluster, Namespace: p.Namespace, Pod: p.Pod, Instance: p.Instance, Model: p.Model, Role: p.Role, GPUs: len(p.GPUs),
			KVUsage: latest(p.KVUsage), Running: latest(p.Running), Waiting: latest(p.Waiting),
			TTFTp95: latest(p.TTFTp95), TokensPerSecond: latest(p.GenerationTPS),
			Diagnosis: states[k], Severity: severities[k]}
		var busy, dram []float64
		for _, gi := range p.GPUs {
			busy = append(busy, latest(s.GPUs[gi].Busy))
			dram = append(dram, latest(s.GPUs[gi].DRAM))
		}
		r.Busy, r.MemoryBandwidth = mean(busy), mean(dram)
		rows = append(rows, r)
	}
	return rows, nil
}

// diagnosis returns each pod's primary state and its severity, diagnosing
// again when the window's end has moved by a step since the last read.
func (t *Top) diagnosis(ctx context.Context, at time.Time) (map[podKey]diagnose.State, map[podKey]diagnose.Severity, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	end := at.Truncate(t.diag.Thresholds().Step)
	if t.diagnose != nil && end.Equal(t.diagEnd) {
		return t.diagnose, t.severity, nil
	}
	r, err := t.diag.Diagnose(ctx, at, t.window)
	if err != nil {
		return nil, nil, err
	}
	states := map[podKey]diagnose.State{}
	severities := map[podKey]diagnose.Severity{}
	for _, ps := range r.Pods {
		states[podKey{ps.Subject.Cluster, ps.Subject.Namespace, ps.Subject.Pod, ps.Subject.Instance}] = ps.Primary
	}
	for _, f := range r.Findings {
		if f.Subject.Level != diagnose.LevelPod {
			continue
		}
		k := podKey{f.Subject.Cluster, f.Subject.Namespace, f.Subject.Pod, f.Subject.Instance}
		if _, seen := severities[k]; !seen && states[k] == f.State {
			severities[k] = f.Severity
		}
	}
	t.diagEnd, t.diagnose, t.severity = end, states, severities
	t.queues = queueLine(r.Queues)
	var line []string
	if m := r.Utilisation.Fleet; m != nil {
		line = append(line, fmt.Sprintf("fleet: %s, busy %.0f%% over %s", fleet.GPUsText(m.GPUs), m.Busy*100, model.Duration(t.window)))
	}
	if len(r.Unusable) > 0 {
		line = append(line, health.ListText(r.Unusable))
	}
	t.fleet = strings.Join(line, "; ")
	return states, severities, nil
}

// FleetLine is the fleet model's line of the last diagnosis ("fleet: 64
// GPUs, of which 8 split into 16 MIG slices, busy 85% over 15m"), then the
// unusable GPUs with their XID codes ("unusable GPUs: node-1/GPU-3 (XID
// 79)"); "" without a fleet calculator and an unusable GPU.
func (t *Top) FleetLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fleet
}

// latest is the track's last value, or the one before it when the last
// step has none yet (a target scraped just after the step).
func latest(t diagnose.Track) float64 {
	for i := len(t) - 1; i >= max(0, len(t)-2); i-- {
		if !math.IsNaN(t[i]) {
			return t[i]
		}
	}
	return math.NaN()
}

// mean averages the values that are not NaN; NaN if none is.
func mean(vs []float64) float64 {
	sum, n := 0.0, 0
	for _, v := range vs {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// TopColumn is a column of the table, in display order.
type TopColumn int

// The columns of `servescope top`.
const (
	ColPod TopColumn = iota
	ColModel
	ColGPUs
	ColBusy
	ColMemoryBandwidth
	ColKV
	ColRunning
	ColWaiting
	ColTTFT
	ColTokens
	ColDiagnosis
	numTopColumns
)

// topColumn describes one column: its header, its flag name, how a cell
// reads and how rows compare on it.
type topColumn struct {
	header, name string
	right        bool // right-aligned (numbers)
	// descending is the natural order: numbers largest first, text and
	// diagnosis (most specific problem first) ascending.
	descending bool
	cell       func(TopRow) string
	// value is the numeric key; text the textual one (used when value is nil).
	value func(TopRow) float64
	text  func(TopRow) string
}

func topColumns() [numTopColumns]topColumn {
	return [numTopColumns]topColumn{
		ColPod:             {header: "POD", name: "pod", cell: podName, text: podName},
		ColModel:           {header: "MODEL", name: "model", cell: modelCell, text: modelCell},
		ColGPUs:            {header: "GPUS", name: "gpus", right: true, descending: true, cell: func(r TopRow) string { return fmt.Sprint(r.GPUs) }, value: func(r TopRow) float64 { return float64(r.GPUs) }},
		ColBusy:            {header: "BUSY", name: "busy", right: true, descending: true, cell: func(r TopRow) string { return percent(r.Busy) }, value: func(r TopRow) float64 { return r.Busy }},
		ColMemoryBandwidth: {header: "MEM BW", name: "membw", right: true, descending: true, cell: func(r TopRow) string { return percent(r.MemoryBandwidth) }, value: func(r TopRow) float64 { return r.MemoryBandwidth }},
		ColKV:              {header: "KV", name: "kv", right: true, descending: true, cell: func(r TopRow) string { return percent(r.KVUsage) }, value: func(r TopRow) float64 { return r.KVUsage }},
		ColRunning:         {header: "RUN", name: "running", right: true, descending: true, cell: func(r TopRow) string { return count(r.Running) }, value: func(r TopRow) float64 { return r.Running }},
		ColWaiting:         {header: "WAIT", name: "waiting", right: true, descending: true, cell: func(r TopRow) string { return count(r.Waiting) }, value: func(r TopRow) float64 { return r.Waiting }},
		ColTTFT:            {header: "TTFT P95", name: "ttft", right: true, descending: true, cell: func(r TopRow) string { return seconds(r.TTFTp95) }, value: func(r TopRow) float64 { return r.TTFTp95 }},
		ColTokens:          {header: "TOK/S", name: "tokens", right: true, descending: true, cell: func(r TopRow) string { return count(r.TokensPerSecond) }, value: func(r TopRow) float64 { return r.TokensPerSecond }},
		ColDiagnosis:       {header: "DIAGNOSIS", name: "diagnosis", cell: diagnosisCell, value: diagnosisRank},
	}
}

// TopColumnNames lists the columns' names for --sort, in display order.
func TopColumnNames() []string {
	cols := topColumns()
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// ParseTopColumn returns the column named name (as in TopColumnNames).
func ParseTopColumn(name string) (TopColumn, error) {
	for i, c := range topColumns() {
		if c.name == name {
			return TopColumn(i), nil
		}
	}
	return 0, fmt.Errorf("unknown column %q (want one of %s)", name, strings.Join(TopColumnNames(), ", "))
}

// TopSort is the order of the rows: a column and whether its natural
// order (numbers largest first, text ascending, problems first) is
// reversed. Ties are broken by pod, ascending.
type TopSort struct {
	Column  TopColumn
	Reverse bool
}

// Next moves the sort by delta columns (wrapping), in the new column's
// natural order.
func (s TopSort) Next(delta int) TopSort {
	n := int(numTopColumns)
	return TopSort{Column: TopColumn(((int(s.Column)+delta)%n + n) % n)}
}

// Descending says whether the rows are in descending order of the column.
func (s TopSort) Descending() bool { return topColumns()[s.Column].descending != s.Reverse }

// String names the order, e.g. "BUSY descending".
func (s TopSort) String() string {
	dir := "ascending"
	if s.Descending() {
		dir = "descending"
	}
	return topColumns()[s.Column].header + " " + dir
}

// SortTopRows orders rows in place. Missing values (NaN) come last in
// either direction.
func SortTopRows(rows []TopRow, s TopSort) {
	c := topColumns()[s.Column]
	desc := s.Descending()
	slices.SortStableFunc(rows, func(a, b TopRow) int {
		var r int
		if c.value != nil {
			va, vb := c.value(a), c.value(b)
			switch na, nb := math.IsNaN(va), math.IsNaN(vb); {
			case na && nb:
			case na:
				return 1
			case nb:
				return -1
			default:
				r = cmp.Compare(va, vb)
			}
		} else {
			r = strings.Compare(c.text(a), c.text(b))
		}
		if desc {
			r = -r
		}
		if r != 0 {
			return r
		}
		return cmp.Or(strings.Compare(podName(a), podName(b)), strings.Compare(a.Instance, b.Instance), strings.Compare(a.Cluster, b.Cluster))
	})
}

func podName(r TopRow) string { return r.Namespace + "/" + r.Pod }

func diagnosisCell(r TopRow) string {
	switch r.Diagnosis {
	case "":
		return "-"
	case diagnose.StateHealthy:
		return "ok"
	}
	return string(r.Diagnosis)
}

// diagnosisRank orders states by precedence (the most specific problem
// first, healthy last); a pod not diagnosed yet comes after healthy.
func diagnosisRank(r TopRow) float64 {
	if i := slices.Index(diagnose.States(), r.Diagnosis); i >= 0 {
		return float64(i)
	}
	return float64(len(diagnose.States()))
}

func percent(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func count(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func seconds(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "+Inf" // in the histogram's last bucket
	case v < 1:
		return fmt.Sprintf("%.0fms", v*1000)
	}
	return fmt.Sprintf("%.2fs", v)
}

// modelCell is the model, with the pod's role of a disaggregated
// deployment: "llama-8b (prefill)".
func modelCell(r TopRow) string {
	if r.Role == "" {
		return r.Model
	}
	return r.Model + " (" + r.Role + ")"
}

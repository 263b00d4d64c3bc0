package health

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
)

// The catalog signals the judgement reads.
const (
	SigRemapFailure = "gpu_row_remap_failure"
	SigRows         = "gpu_uncorrectable_remapped_rows"
	SigXIDCount     = "gpu_xid_errors"
	SigStatus       = "gpu_health_status"
	SigLastXID      = "gpu_last_xid"
)

// Signals lists them in the order they are read.
func Signals() []string {
	return []string{SigRemapFailure, SigRows, SigXIDCount, SigStatus, SigLastXID}
}

// Reader reads the health signals' range queries, built once from the
// catalog.
type Reader struct {
	queries      map[string]string
	clusterLabel string
}

// NewReader prepares the queries (the recorded series with recorded set);
// clusterLabel is the external label naming a series' cluster (default
// "cluster").
func NewReader(cat *schema.Catalog, recorded bool, clusterLabel string) (*Reader, error) {
	if clusterLabel == "" {
		clusterLabel = cluster.DefaultLabel
	}
	r := &Reader{queries: map[string]string{}, clusterLabel: clusterLabel}
	for _, name := range Signals() {
		q, err := cat.Select(name, recorded)
		if err != nil {
			return nil, fmt.Errorf("health: signal %s: %w", name, err)
		}
		r.queries[name] = q
	}
	return r, nil
}

// Query returns the query read for a signal (evidence names it).
func (r *Reader) Query(signal string) string { return r.queries[signal] }

// GPU is one GPU's (or MIG slice's) health tracks and its labels.
type GPU struct {
	Cluster, Hostname, UUID, MIG string
	ModelName                    string
	Tracks                       Tracks
}

// Key identifies the GPU: cluster, hostname, UUID and MIG instance.
func (g *GPU) Key() string { return g.Cluster + "\xff" + g.Hostname + "\xff" + g.UUID + "\xff" + g.MIG }

// Read reads every health signal over rng (split per UTC day) into one
// GPU per key, in key order. A non-empty clusterName scopes every query
// to that cluster (cluster.Unnamed: the series without the label).
func (r *Reader) Read(ctx context.Context, q query.RangeQuerier, rng query.Range, clusterName string) ([]*GPU, error) {
	n := 0
	if rng.Step > 0 && !rng.End.Before(rng.Start) {
		n = int(rng.End.Sub(rng.Start)/rng.Step) + 1
	}
	gpus := map[string]*GPU{}
	get := func(m model.Metric) *GPU {
		g := &GPU{Cluster: string(m[model.LabelName(r.clusterLabel)]), Hostname: string(m["hostname"]), UUID: string(m["uuid"]), MIG: string(m["GPU_I_ID"])}
		if old := gpus[g.Key()]; old != nil {
			return old
		}
		g.ModelName = string(m["modelName"])
		gpus[g.Key()] = g
		return g
	}
	for _, name := range Signals() {
		text := r.queries[name]
		if clusterName != "" {
			var err error
			if text, err = cluster.Inject(text, r.clusterLabel, clusterName); err != nil {
				return nil, fmt.Errorf("health: %s: %w", name, err)
			}
		}
		res, err := query.QueryRangeSplit(ctx, q, text, rng, query.DayChunk)
		if err != nil {
			return nil, fmt.Errorf("health: query %s: %w", name, err)
		}
		m, ok := res.Value.(model.Matrix)
		if !ok {
			return nil, fmt.Errorf("health: query %s: got %s, want a matrix", name, res.Value.Type())
		}
		for _, ss := range m {
			g := get(ss.Metric)
			t := &g.Tracks
			var dst *Track
			switch name {
			case SigRemapFailure:
				dst = &t.RemapFailure
			case SigRows:
				dst = &t.UncorrectableRows
			case SigLastXID:
				dst = &t.LastXID
			case SigXIDCount:
				if t.XIDCount == nil {
					t.XIDCount = map[int]Track{}
				}
				code, _ := strconv.Atoi(string(ss.Metric["xid"])) // the code-less zero series is 0
				if ms, err := strconv.Atoi(string(ss.Metric["window_size_in_ms"])); err == nil && ms > 0 {
					t.XIDWindow = time.Duration(ms) * time.Millisecond
				}
				tr := t.XIDCount[code]
				fill(&tr, n, rng, ss.Values)
				t.XIDCount[code] = tr
				continue
			case SigStatus:
				if t.Status == nil {
					t.Status = map[string]Track{}
				}
				k := strings.TrimSpace(string(ss.Metric["health_watch"]) + " " + string(ss.Metric["health_error_code"]))
				tr := t.Status[k]
				fill(&tr, n, rng, ss.Values)
				t.Status[k] = tr
				continue
			}
			fill(dst, n, rng, ss.Values)
		}
	}
	keys := make([]string, 0, len(gpus))
	for k := range gpus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*GPU, 0, len(keys))
	for _, k := range keys {
		out = append(out, gpus[k])
	}
	return out, nil
}

// fill writes a range query's points into the track's steps (the larger
// value wins where two series of one GPU meet).
func fill(t *Track, n int, rng query.Range, ps []model.SamplePair) {
	if *t == nil {
		*t = NewTrack(n)
	}
	// t - start in nanoseconds, as Time().Sub(rng.Start) gives it,
	// without a time.Time per point.
	start := rng.Start.UnixNano()
	for _, p := range ps {
		i := int((int64(p.Timestamp)*int64(time.Millisecond) - start) / int64(rng.Step))
		if i < 0 || i >= n || math.IsNaN(float64(p.Value)) {
			continue
		}
		if v := float64(p.Value); math.IsNaN((*t)[i]) || v > (*t)[i] {
			(*t)[i] = v
		}
	}
}

// Unusable is one GPU judged unusable, as every surface lists it.
type Unusable struct {
	Cluster  string `json:"cluster,omitempty"`
	Hostname string `json:"hostname"`
	UUID     string `json:"uuid"`
	MIG      string `json:"mig,omitempty"`
	// ModelName is the GPU's model (dcgm modelName).
	ModelName string `json:"modelName,omitempty"`
	// Namespace and Pod hold the GPU, where known.
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// XIDs are the XID codes reported within the lookback.
	XIDs    []int     `json:"xids"`
	Reasons []string  `json:"reasons"`
	Since   time.Time `json:"since"`
}

// Judged returns the unusable GPUs among gpus, judged at the end of rng.
func Judged(gpus []*GPU, rng query.Range, th Thresholds) []Unusable {
	var out []Unusable
	for _, g := range gpus {
		v := Judge(g.Tracks, rng.Step, th)
		if !v.Unusable {
			continue
		}
		out = append(out, Unusable{Cluster: g.Cluster, Hostname: g.Hostname, UUID: g.UUID, MIG: g.MIG, ModelName: g.ModelName,
			XIDs: v.XIDs, Reasons: v.Reasons, Since: rng.Start.Add(time.Duration(v.Since) * rng.Step)})
	}
	return out
}

// Step is the resolution Unusables reads the lookback at.
const Step = 15 * time.Second

// Unusables reads the lookback ending at end and returns the GPUs
// unusable then: the fleet model's list.
func (r *Reader) Unusables(ctx context.Context, q query.RangeQuerier, clusterName string, end time.Time, th Thresholds) ([]Unusable, error) {
	end = end.Truncate(Step)
	rng := query.Range{Start: end.Add(-th.Lookback), End: end, Step: Step}
	gpus, err := r.Read(ctx, q, rng, clusterName)
	if err != nil {
		return nil, err
	}
	return Judged(gpus, rng, th), nil
}

// ListText names unusable GPUs for a one-line view (top): "unusable GPUs:
// node-1/GPU-3 (XID 79), node-2/GPU-9 (no XID)".
func ListText(us []Unusable) string {
	parts := make([]string, 0, len(us))
	for _, u := range us {
		id := u.Hostname + "/" + u.UUID
		if u.MIG != "" {
			id += "/" + u.MIG
		}
		if u.Cluster != "" {
			id = u.Cluster + ":" + id
		}
		parts = append(parts, id+" ("+XIDText(u.XIDs)+")")
	}
	return "unusable GPUs: " + strings.Join(parts, ", ")
}

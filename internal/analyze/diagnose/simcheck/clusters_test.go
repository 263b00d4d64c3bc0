package simcheck

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// TestTwoClustersDiagnosedApart backfills one simulated fleet alone, and
// copies its history into the stores of clusters a and b with the label
// cluster added to every series, as Backfill's external labels would have
// written them (the simulator exposes no cluster label); one engine reads
// the two stores merged, as a Thanos query would.
// Every pod and GPU name is shared by a and b. Each pod is diagnosed in
// each cluster with the state it has alone; diagnosing one cluster shows
// only its pods, with the same states again.
func TestTwoClustersDiagnosedApart(t *testing.T) {
	end := time.Date(2026, 3, 2, 3, 50, 0, 0, time.UTC)
	sc, err := sim.OpenScenario("", "idle")
	if err != nil {
		t.Fatal(err)
	}
	span := simDuration
	if raceEnabled {
		span = evalWindow + time.Minute
	}
	dir := t.TempDir()
	if _, err := app.Backfill(t.Context(), app.BackfillOptions{Scenario: sc, GPUs: simGPUs, Seed: 1, Duration: span, End: end,
		StoragePath: dir, EvalInterval: -1}); err != nil {
		t.Fatal(err)
	}
	store, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	alone := store.Queryable()
	a, b := withCluster(t, alone, "a"), withCluster(t, alone, "b")
	both := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		qa, err := a.Querier(mint, maxt)
		if err != nil {
			return nil, err
		}
		qb, err := b.Querier(mint, maxt)
		if err != nil {
			return nil, err
		}
		return storage.NewMergeQuerier([]storage.Querier{qa, qb}, nil, storage.ChainedSeriesMerge), nil
	})
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	diag := func(q storage.Queryable) *diagnose.Diagnoser {
		t.Helper()
		eng := query.NewEngine(q, query.EngineOptions{Timeout: time.Minute, MaxSamples: 50e6, Registerer: prometheus.NewRegistry()})
		d, err := diagnose.New(diagnose.Options{Querier: eng, Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	primary := func(r *diagnose.Report) map[string]diagnose.State {
		m := map[string]diagnose.State{}
		for _, p := range r.Pods {
			m[p.Subject.Cluster+":"+p.Subject.Namespace+"/"+p.Subject.Pod] = p.Primary
		}
		return m
	}
	want, err := diag(alone).Diagnose(t.Context(), end, evalWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Pods) == 0 {
		t.Fatal("the fleet alone has no pods")
	}
	db := diag(both)
	got, err := db.Diagnose(t.Context(), end, evalWindow)
	if err != nil {
		t.Fatal(err)
	}
	all := primary(got)
	if len(all) != 2*len(want.Pods) {
		t.Errorf("%d pods over both clusters, want twice %d", len(all), len(want.Pods))
	}
	for k, st := range primary(want) {
		for _, cl := range []string{"a", "b"} {
			if all[cl+k] != st {
				t.Errorf("pod %s in cluster %s: %q, want %q as alone", k[1:], cl, all[cl+k], st)
			}
		}
	}
	for _, cl := range []string{"a", "b"} {
		one, err := db.DiagnoseCluster(t.Context(), cl, end, evalWindow)
		if err != nil {
			t.Fatal(err)
		}
		if c := one.Clusters(); len(c) != 1 || c[0] != cl {
			t.Errorf("cluster %s diagnosed: subjects of %v", cl, c)
		}
		for k, st := range primary(one) {
			if all[k] != st {
				t.Errorf("cluster %s alone: pod %s %q, over both %q", cl, k, st, all[k])
			}
		}
		if len(one.Pods) != len(want.Pods) {
			t.Errorf("cluster %s: %d pods, want %d", cl, len(one.Pods), len(want.Pods))
		}
	}
}

// withCluster copies every series of src (floats and histograms) into a new store with the label
// cluster=name added: what Backfill writes with that external label, at the
// cost of a copy instead of a second simulation.
func withCluster(t *testing.T, src storage.Queryable, name string) storage.Queryable {
	t.Helper()
	q, err := src.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	dst := teststorage.New(t)
	app := dst.Appender(t.Context())
	ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var it chunkenc.Iterator
	n := 0
	for ss.Next() {
		s := ss.At()
		if s.Labels().Has("cluster") {
			t.Fatalf("series %s already has a cluster label", s.Labels())
		}
		ls := labels.NewBuilder(s.Labels()).Set("cluster", name).Labels()
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var err error
			switch vt {
			case chunkenc.ValFloat:
				ts, v := it.At()
				_, err = app.Append(0, ls, ts, v)
			case chunkenc.ValHistogram:
				// Backfill writes classic histograms as NHCB by default.
				ts, h := it.AtHistogram(nil)
				_, err = app.AppendHistogram(0, ls, ts, h, nil)
			case chunkenc.ValFloatHistogram:
				ts, fh := it.AtFloatHistogram(nil)
				_, err = app.AppendHistogram(0, ls, ts, nil, fh)
			default:
				t.Fatalf("series %s: %s sample", s.Labels(), vt)
			}
			if err != nil {
				t.Fatalf("append %s: %v", ls, err)
			}
			n++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the fleet alone has no samples to copy")
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return dst
}

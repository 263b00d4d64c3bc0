package app

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/sim"
	"github.com/servescope/servescope/internal/store/tsdb"
)

func loadSimScenario(t testing.TB, name string) *sim.Scenario {
	t.Helper()
	sc, err := sim.OpenScenario("", name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// seriesOf returns the label sets of the series named name in [mint, maxt].
func seriesOf(t *testing.T, dir string, name string, mint, maxt int64) (sets []labels.Labels, samples int) {
	t.Helper()
	db, err := tsdb.Open(tsdb.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Queryable().Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, name))
	for ss.Next() {
		s := ss.At()
		sets = append(sets, s.Labels())
		it := s.Iterator(nil)
		for it.Next() != 0 {
			samples++
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return sets, samples
}

func TestBackfill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	// 8 GPUs: the exporters go down 10 simulated minutes in; 8 of them are
	// a warm-up (simulated, not written), then 3 minutes are written, 13
	// scrapes at 15 s, the exporters down over the last one.
	const warmup, minutes, scrapes = 8, 3, 3*4 + 1
	res, err := Backfill(t.Context(), BackfillOptions{Scenario: loadSimScenario(t, "exporter-down"), GPUs: 8, Seed: 1,
		Duration: minutes * time.Minute, Warmup: warmup * time.Minute, End: end, StoragePath: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples == 0 || res.Failed == 0 {
		t.Fatalf("result %+v: want samples and failed scrapes (a quarter of the exporters, at least one, go down at 10m)", res)
	}
	mint, maxt := res.Start.UnixMilli(), end.UnixMilli()
	// exporter-down scrapes dcgm-exporter with honor_labels true: allocated
	// GPUs keep the workload's namespace, idle ones inherit the exporter's.
	sets, n := seriesOf(t, dir, "DCGM_FI_DEV_FB_USED", mint, maxt)
	if len(sets) == 0 || n == 0 {
		t.Fatal("no DCGM_FI_DEV_FB_USED stored")
	}
	for _, l := range sets {
		if l.Get("exported_namespace") != "" {
			t.Errorf("honor_labels true stored exported_namespace: %v", l)
		}
		if l.Get("job") != "dcgm-exporter" || l.Get("instance") == "" {
			t.Errorf("missing target labels: %v", l)
		}
	}
	ups, n := seriesOf(t, dir, "up", mint, maxt)
	if len(ups) != len(res.Cluster.Targets()) || n != len(ups)*scrapes {
		t.Errorf("%d up series with %d samples, want %d series × %d scrapes", len(ups), n, len(res.Cluster.Targets()), scrapes)
	}
	// The catalog's recording rules were evaluated over the history, once
	// a minute, as the live rule manager would have.
	rec, n := seriesOf(t, dir, "servescope:gpu_busy_ratio:avg", mint, maxt)
	if len(rec) == 0 || n != len(rec)*(minutes+1) {
		t.Errorf("%d recorded gpu_busy series with %d samples, want one sample a minute over %d minutes, both ends included", len(rec), n, minutes)
	}
}

func TestBackfillExportedLabels(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	// The catalog's rules are not evaluated: only scraped series are read.
	if _, err := Backfill(t.Context(), BackfillOptions{Scenario: loadSimScenario(t, "idle"), GPUs: 8, Seed: 1,
		Duration: 2 * time.Minute, End: end, StoragePath: dir, EvalInterval: -1}); err != nil {
		t.Fatal(err)
	}
	// idle scrapes dcgm-exporter with honor_labels false: the workload's
	// namespace lands in exported_namespace, namespace is the exporter's.
	sets, _ := seriesOf(t, dir, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", 0, end.UnixMilli())
	exported := 0
	for _, l := range sets {
		if l.Get("namespace") != "gpu-operator" {
			t.Errorf("namespace %q, want the exporter's: %v", l.Get("namespace"), l)
		}
		if l.Get("exported_namespace") == "chat" && l.Get("exported_pod") != "" {
			exported++
		}
	}
	if exported == 0 {
		t.Error("no series with exported_namespace/exported_pod")
	}
}

// BenchmarkBackfill measures backfill throughput in samples per second:
// stepping, rendering, parsing and appending 10 simulated minutes of the
// healthy scenario at 16 GPUs.
func BenchmarkBackfill(b *testing.B) {
	sc := loadSimScenario(b, "healthy")
	end := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var samples int
	start := time.Now()
	for b.Loop() {
		res, err := Backfill(b.Context(), BackfillOptions{Scenario: sc, GPUs: 16, Seed: 1, Duration: 10 * time.Minute, End: end, StoragePath: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		samples += res.Samples
	}
	b.ReportMetric(float64(samples)/time.Since(start).Seconds(), "samples/s")
}

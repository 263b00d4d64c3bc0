package tsdb

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	ptsdb "github.com/prometheus/prometheus/tsdb"
)

// TestMetricLabelNames: the label names of a metric name's series as
// series are added, moved into blocks by compaction and removed from the
// head, checked after every step against the store's own label names for
// that name.
func TestMetricLabelNames(t *testing.T) {
	d, err := Open(Options{Path: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ctx := t.Context()
	db := d.db
	extra := []string{"a", "b", "exported_pod", "pod", "zone"}
	rng := rand.New(rand.NewPCG(1, 2))
	var ts int64
	metrics := []string{"m1", "m2", "m3"}

	check := func(step string) {
		t.Helper()
		q, err := db.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for _, m := range metrics {
			want, _, err := q.LabelNames(ctx, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, m))
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.MetricLabelNames(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSorted(got) {
				t.Errorf("%s: %s: %q not sorted", step, m, got)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s: got %q, store has %q", step, m, got, want)
			}
		}
	}
	add := func(n int) {
		t.Helper()
		app := db.Appender(ctx)
		for range n {
			b := labels.NewScratchBuilder(3)
			b.Add(model.MetricNameLabel, metrics[rng.IntN(len(metrics))])
			b.Add(extra[rng.IntN(len(extra))], "v")
			b.Add("id", strings.Repeat("x", rng.IntN(40)))
			b.Sort()
			if _, err := app.Append(0, b.Labels(), ts, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		ts += 60_000
	}

	check("empty store")
	for i := range 20 {
		add(1 + i%3)
		check("after appends")
	}
	// Everything before now into a block; the head drops those series.
	before := db.Head().NumSeries()
	if err := db.CompactHead(ptsdb.NewRangeHead(db.Head(), 0, ts-1)); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 || db.Head().NumSeries() >= before {
		t.Fatalf("%d blocks, %d head series of %d: compaction moved nothing", len(db.Blocks()), db.Head().NumSeries(), before)
	}
	// The series moved, none was deleted: the answer is still exact.
	check("after compaction")
	for range 10 {
		add(2)
		check("appends after compaction")
	}
	if got, err := d.MetricLabelNames(ctx, "never"); err != nil || len(got) != 0 {
		t.Errorf("a name never stored: %q, %v", got, err)
	}
}

// TestMetricLabelNamesAgent: the agent store has no series to ask.
func TestMetricLabelNamesAgent(t *testing.T) {
	d, err := Open(Options{Path: filepath.Join(t.TempDir(), "data"), Agent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.MetricLabelNames(t.Context(), "m"); err == nil {
		t.Error("agent store answered label names")
	}
}

func TestUnion(t *testing.T) {
	for _, c := range []struct{ a, b, want []string }{
		{nil, nil, []string{}},
		{[]string{"a"}, nil, []string{"a"}},
		{[]string{"a", "c"}, []string{"b", "c", "d"}, []string{"a", "b", "c", "d"}},
	} {
		if got := union(c.a, c.b); !slices.Equal(got, c.want) {
			t.Errorf("union(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

package scrape

import (
	"math"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// histExposition is a vLLM-like target with one latency histogram of four
// buckets besides a gauge.
const histExposition = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 2
vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.5"} 5
vllm:time_to_first_token_seconds_bucket{model_name="m",le="2.5"} 9
vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"} 10
vllm:time_to_first_token_seconds_sum{model_name="m"} 6.5
vllm:time_to_first_token_seconds_count{model_name="m"} 10
vllm:time_to_first_token_seconds_created{model_name="m"} 1.7e9
`

// TestNHCBAtScrape scrapes one target with a classic histogram: by default
// it is stored as one native histogram with custom buckets under the
// family's name (kept by the keep step) and /api/v1/targets counts one
// series for it; with keep_classic_histograms, or a job that sets
// convert_classic_histograms_to_nhcb: false, its classic series are stored.
func TestNHCBAtScrape(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg := serve(t, histExposition)
	classic := []string{"vllm:num_requests_running", "vllm:time_to_first_token_seconds_bucket", "vllm:time_to_first_token_seconds_count", "vllm:time_to_first_token_seconds_sum"}
	for _, tc := range []struct {
		name, section, job string
		stored             []string
		histograms         int
		kept               int
	}{
		{"default", "", "", []string{"vllm:num_requests_running", "vllm:time_to_first_token_seconds"}, 1, 2},
		{"keep_classic_histograms", "servescope:\n  keep_classic_histograms: true\n", "", classic, 0, 7},
		{"the job's own setting wins", "", "    convert_classic_histograms_to_nhcb: false\n", classic, 0, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, db := scrapeOnce(t, tg, tc.section, "vllm", tc.job, Options{Reads: cat.Reads()})
			if *st.SeriesKept != tc.kept {
				t.Errorf("seriesScraped %d, seriesKept %d; want %d kept", *st.SeriesScraped, *st.SeriesKept, tc.kept)
			}
			if got := storedNames(t, db); !slices.Equal(got, tc.stored) {
				t.Errorf("stored %q\nwant %q", got, tc.stored)
			}
			if got := histogramSeries(t, db); got != tc.histograms {
				t.Errorf("%d series hold histogram samples, want %d", got, tc.histograms)
			}
		})
	}
}

// histogramSeries counts the stored series whose samples are histograms.
func histogramSeries(t *testing.T, db *tsdb.DB) int {
	t.Helper()
	q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	n := 0
	set := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "vllm:.*"))
	var it chunkenc.Iterator
	for set.Next() {
		it = set.At().Iterator(it)
		if typ := it.Next(); typ == chunkenc.ValHistogram || typ == chunkenc.ValFloatHistogram {
			n++
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// iterExposition is vLLM's iteration_tokens_total histogram, of which the
// catalog reads only the sum and count.
const iterExposition = `# TYPE vllm:iteration_tokens_total histogram
vllm:iteration_tokens_total_bucket{model_name="m",le="1.0"} 2
vllm:iteration_tokens_total_bucket{model_name="m",le="8.0"} 7
vllm:iteration_tokens_total_bucket{model_name="m",le="+Inf"} 10
vllm:iteration_tokens_total_sum{model_name="m"} 40
vllm:iteration_tokens_total_count{model_name="m"} 10
`

// TestSumCountOnlyAtScrape: a histogram whose buckets the analysis does not
// read is stored without them: as one custom-bucket histogram of a single
// +Inf bucket with the exposition's sum and count, or with
// keep_classic_histograms as its _sum and _count series; keep_metrics
// naming its buckets keeps them.
func TestSumCountOnlyAtScrape(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sumCount, err := cat.SumCountOnly()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sumCount, "vllm:iteration_tokens_total") {
		t.Fatalf("SumCountOnly = %q, want vllm:iteration_tokens_total among them", sumCount)
	}
	tg := serve(t, iterExposition)
	for _, tc := range []struct {
		name, section string
		stored        []string
		buckets       int // of the stored histogram; 0: none stored
	}{
		{"default", "", []string{"vllm:iteration_tokens_total"}, 1},
		{"keep_classic_histograms", "servescope:\n  keep_classic_histograms: true\n", []string{"vllm:iteration_tokens_total_count", "vllm:iteration_tokens_total_sum"}, 0},
		{"keep_metrics names the buckets", "servescope:\n  keep_metrics: [\"vllm:iteration_tokens_total_bucket\"]\n", []string{"vllm:iteration_tokens_total"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, db := scrapeOnce(t, tg, tc.section, "vllm", "", Options{Reads: cat.Reads(), SumCountOnly: sumCount})
			if got := storedNames(t, db); !slices.Equal(got, tc.stored) {
				t.Errorf("stored %q\nwant %q", got, tc.stored)
			}
			q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			set := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "vllm:.*"))
			var it chunkenc.Iterator
			for set.Next() {
				s := set.At()
				it = s.Iterator(it)
				switch typ := it.Next(); typ {
				case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
					_, fh := it.AtFloatHistogram(nil)
					if n := len(fh.CustomValues) + 1; fh.Sum != 40 || fh.Count != 10 || n != tc.buckets {
						t.Errorf("%s: sum %v, count %v, %d buckets; want 40, 10, %d", s.Labels(), fh.Sum, fh.Count, n, tc.buckets)
					}
				case chunkenc.ValFloat:
					_, v := it.At()
					want := map[string]float64{"vllm:iteration_tokens_total_sum": 40, "vllm:iteration_tokens_total_count": 10}[s.Labels().Get("__name__")]
					if v != want {
						t.Errorf("%s = %v, want %v", s.Labels(), v, want)
					}
				default:
					t.Errorf("%s: no sample (%v)", s.Labels(), typ)
				}
			}
			if err := set.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

package scrape

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
	"github.com/servescope/servescope/internal/testutil/proc"
)

func TestKeepRule(t *testing.T) {
	eq := func(v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, "__name__", v) }
	re := func(v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchRegexp, "__name__", v) }
	reads := []*labels.Matcher{eq("vllm:num_requests_running"), eq("vllm:e2e_request_latency_seconds_bucket"), re("DCGM_FI_(DEV|PROF)_.+")}
	for _, tc := range []struct {
		name     string
		reads    []*labels.Matcher
		extra    []string
		sumCount []string
		kept     []string
		gone     []string
	}{
		{
			name:  "catalog reads only",
			reads: reads,
			kept: []string{"vllm:num_requests_running", "vllm:e2e_request_latency_seconds_bucket",
				"vllm:e2e_request_latency_seconds",                                               // the native or custom-bucket form of the histogram
				"vllm:e2e_request_latency_seconds_sum", "vllm:e2e_request_latency_seconds_count", // the rest of the family
				"vllm:num_requests_running_count", // a summary of that name would be kept whole
				"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE"},
			gone: []string{"vllm:e2e_request_latency_seconds_created", "vllm:request_success_created",
				"python_gc_objects_collected_total", "process_cpu_seconds_total", "vllm:num_requests_running_x", "xvllm:num_requests_running",
				"DCGM_FI_DEV_", "node_cpu_seconds_total"},
		},
		{
			name:  "keep_metrics adds names, anchored",
			reads: reads,
			extra: []string{"node_.*", "go_goroutines"},
			kept:  []string{"vllm:num_requests_running", "node_cpu_seconds_total", "go_goroutines"},
			gone:  []string{"go_goroutines_total", "xnode_cpu", "process_cpu_seconds_total"},
		},
		{
			name:  "a negative name matcher keeps everything",
			reads: append(slices.Clone(reads), labels.MustNewMatcher(labels.MatchNotEqual, "__name__", "x")),
			kept:  []string{"anything_at_all", "vllm:request_success_created"},
		},
		{
			name:     "a histogram read by sum and count only",
			reads:    append(slices.Clone(reads), eq("vllm:iteration_tokens_total_sum"), eq("vllm:iteration_tokens_total_count")),
			sumCount: []string{"vllm:iteration_tokens_total"},
			kept: []string{"vllm:iteration_tokens_total", "vllm:iteration_tokens_total_sum", "vllm:iteration_tokens_total_count",
				"vllm:e2e_request_latency_seconds_bucket"},
			gone: []string{"vllm:iteration_tokens_total_bucket", "vllm:iteration_tokens_total_created"},
		},
		{
			name:     "keep_metrics keeps its buckets",
			reads:    append(slices.Clone(reads), eq("vllm:iteration_tokens_total_sum")),
			extra:    []string{"vllm:iteration_tokens_.*"},
			sumCount: []string{"vllm:iteration_tokens_total"},
			kept:     []string{"vllm:iteration_tokens_total_bucket", "vllm:iteration_tokens_total_sum"},
		},
		{name: "no reads keeps everything", kept: []string{"anything_at_all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := keepRule(tc.reads, tc.extra, tc.sumCount)
			if err != nil {
				t.Fatal(err)
			}
			keeps := func(name string) bool { return rc == nil || rc.Regex.MatchString(name) }
			for _, n := range tc.kept {
				if !keeps(n) {
					t.Errorf("%s dropped, want kept", n)
				}
			}
			for _, n := range tc.gone {
				if keeps(n) {
					t.Errorf("%s kept, want dropped", n)
				}
			}
		})
	}
}

// exposition is a vLLM-like target: series the catalog reads, `_created`
// series, runtime families and one family of another exporter.
const exposition = `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3
# TYPE vllm:request_success counter
vllm:request_success_total{model_name="m",finished_reason="stop"} 10
vllm:request_success_created{model_name="m",finished_reason="stop"} 1.7e9
# TYPE python_gc_objects_collected counter
python_gc_objects_collected_total{generation="0"} 5
python_gc_objects_collected_total{generation="1"} 6
# TYPE process_cpu_seconds counter
process_cpu_seconds_total 1
# TYPE node_load1 gauge
node_load1 0.5
`

// TestKeepAtScrape scrapes one target three ways (default, keep_metrics,
// keep_all_metrics) and checks what the store holds and what the target
// status says was sent and kept.
func TestKeepAtScrape(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg := serve(t, exposition)
	const sent = 7
	for _, tc := range []struct {
		name    string
		section string
		kept    int
		stored  []string
	}{
		{"default", "", 2, []string{"vllm:num_requests_running", "vllm:request_success_total"}},
		{"keep_metrics", "servescope:\n  keep_metrics: [\"node_.*\", \"process_.*\"]\n", 4,
			[]string{"node_load1", "process_cpu_seconds_total", "vllm:num_requests_running", "vllm:request_success_total"}},
		{"keep_all_metrics", "servescope:\n  keep_all_metrics: true\n", sent,
			[]string{"node_load1", "process_cpu_seconds_total", "python_gc_objects_collected_total", "vllm:num_requests_running", "vllm:request_success_created", "vllm:request_success_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, db := scrapeOnce(t, tg, tc.section, "vllm", "", Options{Reads: cat.Reads()})
			if *st.SeriesScraped != sent || *st.SeriesKept != tc.kept {
				t.Errorf("seriesScraped %d, seriesKept %d; want %d and %d", *st.SeriesScraped, *st.SeriesKept, sent, tc.kept)
			}
			if got := storedNames(t, db); !slices.Equal(got, tc.stored) {
				t.Errorf("stored %q\nwant %q", got, tc.stored)
			}
		})
	}
}

// storedNames lists the names of the scraped series in the store, without
// the scrape loop's own report series and up.
func storedNames(t *testing.T, db *tsdb.DB) []string {
	t.Helper()
	q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	names, _, err := q.LabelValues(t.Context(), "__name__", nil)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == "up" || strings.HasPrefix(n, "scrape_") })
}

// ksmExposition is kube-state-metrics' pod phase and resource requests,
// one series of each read and the others not (a phase value holds the
// separator the relabelling joins with), and a family read whole.
const ksmExposition = `# TYPE kube_pod_status_phase gauge
kube_pod_status_phase{namespace="a",pod="p",phase="Pending"} 0
kube_pod_status_phase{namespace="a",pod="p",phase="Running"} 1
kube_pod_status_phase{namespace="a",pod="p",phase="Failed"} 0
kube_pod_status_phase{namespace="a",pod="p",phase="Running;x"} 0
# TYPE kube_pod_container_resource_requests gauge
kube_pod_container_resource_requests{namespace="a",pod="p",resource="cpu",node="n"} 2
kube_pod_container_resource_requests{namespace="a",pod="p",resource="nvidia_com_gpu",node="n"} 1
# TYPE kube_pod_labels gauge
kube_pod_labels{namespace="a",pod="p",label_team="t"} 1
`

// TestValueKeepAtScrape: the series of a name read only for some values
// of a label are stored for those values only (a value that holds the
// separator is no exception); keep_metrics naming the family stores it
// whole; the marks the steps set are not stored.
func TestValueKeepAtScrape(t *testing.T) {
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg := serve(t, ksmExposition)
	values := []ValueKeep{
		{Name: "kube_pod_status_phase", Label: "phase", Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "phase", "Running")}},
		{Name: "kube_pod_container_resource_requests", Label: "resource", Matchers: []*labels.Matcher{
			labels.MustNewMatcher(labels.MatchEqual, "resource", "nvidia_com_gpu"), labels.MustNewMatcher(labels.MatchRegexp, "resource", "nvidia_com_mig_.+")}},
	}
	for _, tc := range []struct {
		name, section string
		stored        []string
	}{
		{"default", "", []string{
			`kube_pod_container_resource_requests{namespace="a", node="n", pod="p", resource="nvidia_com_gpu"}`,
			`kube_pod_labels{label_team="t", namespace="a", pod="p"}`,
			`kube_pod_status_phase{namespace="a", phase="Running", pod="p"}`,
		}},
		{"keep_metrics keeps the family whole", "servescope:\n  keep_metrics: [\"kube_pod_status_.*\"]\n", []string{
			`kube_pod_container_resource_requests{namespace="a", node="n", pod="p", resource="nvidia_com_gpu"}`,
			`kube_pod_labels{label_team="t", namespace="a", pod="p"}`,
			`kube_pod_status_phase{namespace="a", phase="Failed", pod="p"}`,
			`kube_pod_status_phase{namespace="a", phase="Pending", pod="p"}`,
			`kube_pod_status_phase{namespace="a", phase="Running", pod="p"}`,
			`kube_pod_status_phase{namespace="a", phase="Running;x", pod="p"}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, db := scrapeOnce(t, tg, tc.section, "ksm", "    honor_labels: true\n", Options{Reads: cat.Reads(), ValueKeeps: values})
			if *st.SeriesKept != len(tc.stored) {
				t.Errorf("seriesKept %d, want %d", *st.SeriesKept, len(tc.stored))
			}
			q, err := db.Queryable().Querier(math.MinInt64, math.MaxInt64)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			set := q.Select(t.Context(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "kube_.*"))
			var got []string
			for set.Next() {
				got = append(got, set.At().Labels().String())
			}
			if err := set.Err(); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.stored)
			for i, w := range want { // the name first, then the job and instance labels the scrape adds
				name, rest, _ := strings.Cut(w, "{")
				want[i] = fmt.Sprintf(`{__name__=%q, instance=%q, job="ksm", %s`, name, strings.TrimPrefix(tg.URL, "http://"), rest)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("stored\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// scrapeOnce runs a Manager with opts over one static job scraping tg
// (section is a servescope: block or "", jobLines more lines of the job)
// and returns the target's status once it has been scraped, and the store.
func scrapeOnce(t *testing.T, tg *target, section, job, jobLines string, opts Options) (Target, *tsdb.DB) {
	t.Helper()
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n%sscrape_configs:\n  - job_name: %s\n%s    static_configs: [{targets: [%q]}]\n",
		section, job, jobLines, strings.TrimPrefix(tg.URL, "http://"))
	cfg, err := config.Parse(job+".yml", []byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, db := run(t, cfg, opts)
	var st Target
	proc.Eventually(t, "the target scraped", 30*time.Second, func() (bool, string) {
		ts := m.Active()
		if len(ts) != 1 {
			return false, fmt.Sprintf("%d targets", len(ts))
		}
		st = ts[0]
		return st.SeriesScraped != nil, fmt.Sprintf("%+v", st)
	})
	return st, db
}

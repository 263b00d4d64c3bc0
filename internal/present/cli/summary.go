// Package cli holds servescope's human-readable terminal output: the
// one-screen summary that `make demo` prints, `servescope diagnose`'s
// tables (WriteDiagnosis: findings and capacity advice), and `servescope top`, a live
// per-pod table (rows read through the diagnoser, the refresh interval
// learned from the server's targets or config API). It reads only through
// the query.Querier, so every command works against the embedded server or
// an external Prometheus alike.
package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
)

// summaryQueries are the summary's rows: a label and a constant query.
// They are data; each is evaluated as written.
var summaryQueries = []struct {
	Label string
	Query string
	Unit  string
}{
	{"targets up", `sum(up)`, ""},
	{"targets down", `count(up == 0) or vector(0)`, ""},
	{"series in store", `count({__name__=~".+"})`, ""},
	{"GPUs reporting", `count(DCGM_FI_DEV_GPU_UTIL)`, ""},
	{"GPU engine active (avg)", `avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE) or avg(DCGM_FI_DEV_GPU_UTIL) / 100`, "ratio"},
	{"GPUs under 70% busy", `count((DCGM_FI_PROF_GR_ENGINE_ACTIVE or DCGM_FI_DEV_GPU_UTIL / 100) < 0.7) or vector(0)`, ""},
	{"requests running", `sum(vllm:num_requests_running) + (sum(sglang:num_running_reqs) or vector(0))`, ""},
	{"requests waiting", `sum(vllm:num_requests_waiting) + (sum(sglang:num_queue_reqs) or vector(0))`, ""},
	{"generation tokens/s (5m)", `sum(rate(vllm:generation_tokens_total[5m]))`, ""},
	{"KV cache usage (max)", `max(vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc)`, "ratio"},
	{"Kueue pending workloads", `sum(kueue_pending_workloads)`, ""},
}

// Summary writes a one-screen overview of what the store holds at now.
func Summary(ctx context.Context, w io.Writer, q query.Querier, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "servescope summary at %s\n", now.UTC().Format(time.RFC3339))
	for _, row := range summaryQueries {
		res, err := q.Query(ctx, row.Query, now)
		if err != nil {
			return fmt.Errorf("summary %q: %w", row.Label, err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", row.Label, format(res.Value, row.Unit))
	}
	jobs, err := q.Query(ctx, `count by (job) (up)`, now)
	if err != nil {
		return fmt.Errorf("summary jobs: %w", err)
	}
	if v, ok := jobs.Value.(model.Vector); ok && len(v) > 0 {
		names := make([]string, 0, len(v))
		for _, s := range v {
			names = append(names, fmt.Sprintf("%s (%g)", s.Metric["job"], float64(s.Value)))
		}
		slices.Sort(names)
		fmt.Fprintf(tw, "  jobs\t%s\n", strings.Join(names, ", "))
	}
	return tw.Flush()
}

func format(v model.Value, unit string) string {
	vec, ok := v.(model.Vector)
	if !ok || len(vec) == 0 {
		return "-"
	}
	f := float64(vec[0].Value)
	if unit == "ratio" {
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return fmt.Sprintf("%.6g", f)
}

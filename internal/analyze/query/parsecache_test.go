package query

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// parseCacheQueries exercise every node the copy knows, and the engine's
// rewrites of a tree: @ start() and end(), offsets, step-invariant
// parts, subqueries, and a duration expression (parsed every time).
var parseCacheQueries = []string{
	`sum by (model_name) (vllm:num_requests_running)`,
	`rate(vllm:generation_tokens_total[1m])`,
	`vllm:num_requests_running @ start()`,
	`vllm:num_requests_running @ end() offset 1m`,
	`vllm:num_requests_running @ 120`,
	`avg_over_time((sum(rate(vllm:generation_tokens_total{pod=~"a|b"}[1m])))[2m:30s] @ end())`,
	`topk(1, vllm:num_requests_running) * on (pod) group_left (model_name) -(vllm:num_requests_running > bool 2)`,
	`label_replace(vllm:num_requests_running, "p", "$1", "pod", "(.+)") or on (pod) vector(1)`,
	`scalar(sum(vllm:num_requests_running)) + 1`,
	`max_over_time(vllm:num_requests_running[1m] offset (30s+30s))`,
	`histogram_quantile(0.9, sum by (le) (rate(vllm:generation_tokens_total[1m])))`,
	`count_values("v", vllm:num_requests_running)`,
}

func TestParseCache(t *testing.T) {
	st := promqltest.LoadedStorage(t, load)
	t.Cleanup(func() { st.Close() })
	cached := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e6, Registerer: prometheus.NewRegistry()})
	pc, ok := cached.parser.(*parseCache)
	if !ok {
		t.Fatalf("the engine's parser is %T, want the parse cache", cached.parser)
	}
	plain := parser.NewParser(parser.Options{})
	r := Range{Start: time.Unix(120, 0), End: time.Unix(240, 0), Step: 30 * time.Second}
	for _, q := range parseCacheQueries {
		want, err := plain.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		// The first answer is parsed, the next ones copied: all evaluate
		// alike, instant and range, and evaluating leaves the kept tree
		// as parsed.
		var first string
		for i := range 3 {
			inst, err := cached.Query(t.Context(), q, time.Unix(300, 0))
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			rng, err := cached.QueryRange(t.Context(), q, r)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			// Sorted: count_values' series come in map order.
			if v, ok := inst.Value.(model.Vector); ok {
				sort.Sort(v)
			}
			if m, ok := rng.Value.(model.Matrix); ok {
				sort.Sort(m)
			}
			got := fmt.Sprint(inst.Value, "|", rng.Value)
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("%s: evaluation %d from the kept tree\n%s\nfirst\n%s", q, i, got, first)
			}
		}
		pc.mu.Lock()
		kept, ok := pc.trees[q]
		pc.mu.Unlock()
		if !ok {
			if _, copyable := cloneExpr(want); copyable {
				t.Errorf("%s: not kept", q)
			}
			continue
		}
		if kept.String() != want.String() || parser.Tree(kept) != parser.Tree(want) {
			t.Errorf("%s: kept tree changed by evaluation:\n%s\nwant\n%s", q, parser.Tree(kept), parser.Tree(want))
		}
	}
	// The duration expression is not copied, and so never kept.
	if _, ok := pc.trees[parseCacheQueries[9]]; ok {
		t.Errorf("%s: a tree with a duration expression was kept", parseCacheQueries[9])
	}
	// A bad query is an error every time, and not kept.
	for range 2 {
		if _, err := cached.Query(t.Context(), `sum(`, time.Unix(300, 0)); err == nil {
			t.Error("bad query: no error")
		}
	}
	if _, ok := pc.trees[`sum(`]; ok {
		t.Error("a bad query was kept")
	}
}

func TestParseCacheBounded(t *testing.T) {
	pc := newParseCache(parser.NewParser(parser.Options{}))
	for i := range parseCacheMax + 10 {
		if _, err := pc.ParseExpr(fmt.Sprintf("up{i=%q}", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(pc.trees); n > parseCacheMax {
		t.Errorf("%d trees kept, at most %d", n, parseCacheMax)
	}
}

package query

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// TestCheckPoints: subqueries are costed before evaluation, nested ones
// and range queries over their whole span.
func TestCheckPoints(t *testing.T) {
	const max = DefaultMaxSubqueryPoints
	for _, tc := range []struct {
		q    string
		span time.Duration
		ok   bool
	}{
		{`count_over_time(vector(1)[365d:1s])`, 0, false},
		{`count_over_time(vector(1)[30d:1s])`, 0, false},
		{`max_over_time(up[30d:1m])`, 0, true},
		{`max_over_time(up[30d:])`, 0, true}, // the default 1m step
		{`max_over_time(up[3000d:])`, 0, false},
		{`max_over_time(up[1d:1m])`, 7 * 24 * time.Hour, true},
		{`max_over_time(up[1h:1s])`, 365 * 24 * time.Hour, false}, // a year-long range query
		{`max_over_time(max_over_time(up[1h:1s])[30d:1h])`, 0, false},
		{`max_over_time(max_over_time(up[1h:1m])[30d:1h])`, 0, true},
		{`sum(rate(up[5m]))`, 0, true},
	} {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		err = checkPoints(expr, tc.span, max)
		if (err == nil) != tc.ok {
			t.Errorf("%s over %s: %v, want ok=%v", tc.q, tc.span, err, tc.ok)
		}
		if err != nil && (TypeOf(err) != ErrCostLimit || !strings.Contains(err.Error(), "--query.max-subquery-points")) {
			t.Errorf("%s: error %q of type %s, want %s naming the flag", tc.q, err, TypeOf(err), ErrCostLimit)
		}
	}
}

// TestHugeSubqueryRefusedBeforeEvaluation: the query is refused
// with 422's error type without evaluating anything.
func TestHugeSubqueryRefusedBeforeEvaluation(t *testing.T) {
	e := newEngine(t, load, 1e6)
	before := heapBytes()
	_, err := e.Query(t.Context(), `count_over_time(vector(1)[365d:1s])`, time.Unix(300, 0))
	if TypeOf(err) != ErrCostLimit {
		t.Fatalf("error %v of type %s, want %s", err, TypeOf(err), ErrCostLimit)
	}
	if grown := heapBytes() - before; grown > 64<<20 {
		t.Errorf("heap grew %d MiB for a refused query", grown>>20)
	}
}

// TestQueueTimeout: with every slot taken, a query waits QueueTimeout and
// is refused as busy; a freed slot admits the next.
func TestQueueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(EngineOptions{MaxConcurrency: 2, QueueTimeout: 3 * time.Second, MemoryBudget: -1}, prometheus.NewRegistry())
		ctx := context.Background()
		var releases []func()
		for range 2 {
			_, release, err := a.admit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		start := time.Now()
		_, _, err := a.admit(ctx)
		if TypeOf(err) != ErrTimeout || !strings.Contains(err.Error(), "--query.max-concurrency") {
			t.Fatalf("third query: %v", err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("refused after %s, want the 3s queue timeout", waited)
		}
		done := make(chan error)
		go func() {
			_, release, err := a.admit(ctx)
			if err == nil {
				release()
			}
			done <- err
		}()
		time.Sleep(time.Second) // inside the bubble: fake time
		releases[0]()
		if err := <-done; err != nil {
			t.Errorf("query after a slot was freed: %v", err)
		}
		releases[1]()
	})
}

// TestMemoryBudget: over the budget, a new query is refused at once, and
// a running query is stopped when the heap crosses it, with an error that
// says so; the heap stays near the budget instead of growing with the
// query.
func TestMemoryBudget(t *testing.T) {
	reg := prometheus.NewRegistry()
	runtime.GC() // the live heap is measured by a collection
	if _, _, err := newAdmission(EngineOptions{MemoryBudget: 1}, reg).admit(t.Context()); TypeOf(err) != ErrTimeout || !strings.Contains(err.Error(), "memory budget") {
		t.Errorf("query over the budget: %v", err)
	}

	st := promqltest.LoadedStorage(t, load)
	t.Cleanup(func() { st.Close() })
	budget := heapBytes() + 16<<20
	e := NewEngine(st, EngineOptions{Timeout: time.Minute, MaxSamples: 1e9, Registerer: prometheus.NewRegistry(),
		MaxSubqueryPoints: -1, MemoryBudget: budget})
	// About 30 M points: gigabytes if it ran to the end. vector(time()),
	// not vector(1): a constant is evaluated once and copied to every
	// point in one loop the watchdog's cancellation cannot stop (20 s
	// under -race); time() is evaluated step by step, and the engine
	// checks the context at each step.
	_, err := e.Query(t.Context(), `count_over_time(vector(time())[365d:1s])`, time.Unix(300, 0))
	if TypeOf(err) != ErrCostLimit || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("query over the budget: %v (type %s)", err, TypeOf(err))
	}
	// No assertion on the heap here: the engine allocates a subquery's
	// points in one piece (hundreds of MB for this one), which a watchdog
	// cannot interrupt; that is what checkPoints refuses before
	// evaluation (TestHugeSubqueryRefusedBeforeEvaluation).
}

// TestMemoryBudgetGarbage: garbage not yet collected is not what the
// budget bounds. Under GOMEMLIMIT the collector lets the heap fill with
// garbage up to the limit, far past a budget that is a share of it, while
// what is live stays below: a query is admitted and runs to its end.
func TestMemoryBudgetGarbage(t *testing.T) {
	runtime.GC()
	budget := heapBytes() + 32<<20
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection until the end
	// 64 MiB of garbage, more than the budget leaves.
	for range 64 {
		runtime.KeepAlive(make([]byte, 1<<20))
	}
	if h := heapObjects(); h < budget {
		t.Fatalf("heap objects %d MiB, want over the budget %d MiB: the test makes no garbage", h>>20, budget>>20)
	}
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(EngineOptions{MemoryBudget: budget}, prometheus.NewRegistry())
		ctx, release, err := a.admit(t.Context())
		if err != nil {
			t.Fatalf("query refused with 64 MiB of garbage and nothing new live: %v", err)
		}
		defer release()
		time.Sleep(10 * watchEvery) // the watchdog's polls, on the bubble's clock
		synctest.Wait()
		if err := context.Cause(ctx); err != nil {
			t.Errorf("running query stopped with only garbage over the budget: %v", err)
		}
	})
}

// heapObjects is the heap's live and not yet swept objects.
func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestQueueFull: with every slot taken and the queue full, a query is
// refused at once rather than waiting.
func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(EngineOptions{MaxConcurrency: 1, MaxQueue: 1, QueueTimeout: time.Minute, MemoryBudget: -1}, prometheus.NewRegistry())
		ctx := context.Background()
		_, release, err := a.admit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waiter := make(chan error)
		go func() {
			_, r, err := a.admit(ctx)
			if err == nil {
				r()
			}
			waiter <- err
		}()
		synctest.Wait() // the waiter is queued
		start := time.Now()
		_, _, err = a.admit(ctx)
		if TypeOf(err) != ErrTimeout || !strings.Contains(err.Error(), "--query.max-queue") {
			t.Errorf("query beyond the queue: %v", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("refused after %s, want at once", time.Since(start))
		}
		release()
		if err := <-waiter; err != nil {
			t.Errorf("queued query: %v", err)
		}
	})
}

// TestBackgroundLeavesASlot: background queries hold at most all slots
// but one and wait without a queue timeout; a person's query is admitted
// at once beside them, and the waiting background query runs once one
// finishes. With one slot, background and other queries share it.
func TestBackgroundLeavesASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdmission(EngineOptions{MaxConcurrency: 3, MaxQueue: 1, QueueTimeout: time.Second, MemoryBudget: -1}, prometheus.NewRegistry())
		bg := Background(context.Background())
		var releases []func()
		for range 2 {
			_, release, err := a.admit(bg)
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		third := make(chan error)
		go func() {
			_, release, err := a.admit(bg)
			if err == nil {
				release()
			}
			third <- err
		}()
		time.Sleep(time.Minute) // far past the queue timeout: it still waits
		select {
		case err := <-third:
			t.Fatalf("a third background query was admitted beside two with three slots: %v", err)
		default:
		}
		start := time.Now()
		_, release, err := a.admit(context.Background())
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("a person's query beside two background ones: %v after %s, want admitted at once", err, time.Since(start))
		}
		releases[0]()
		if err := <-third; err != nil {
			t.Errorf("the waiting background query: %v", err)
		}
		release()
		releases[1]()

		// A canceled background query gives its place back.
		ctx, cancel := context.WithCancel(bg)
		_, r1, _ := a.admit(bg)
		_, r2, _ := a.admit(bg)
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		if _, _, err := a.admit(ctx); TypeOf(err) != ErrCanceled {
			t.Errorf("canceled background query: %v, want %s", err, ErrCanceled)
		}
		r1()
		r2()
		if n := len(a.background); n != 0 {
			t.Errorf("%d background places held after every query ended", n)
		}

		one := newAdmission(EngineOptions{MaxConcurrency: 1, QueueTimeout: time.Second, MemoryBudget: -1}, prometheus.NewRegistry())
		_, r, err := one.admit(bg)
		if err != nil {
			t.Fatalf("background query with one slot: %v", err)
		}
		r()
		if _, r, err = one.admit(context.Background()); err != nil {
			t.Fatalf("query after it: %v", err)
		}
		r()
	})
}

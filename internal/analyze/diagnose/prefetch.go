package diagnose

import (
	"context"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/analyze/query"
)

// snapshotParallel is how many of a snapshot's range queries are
// evaluated at once ahead of the code that reads them (prefetcher): the
// embedded engine runs GOMAXPROCS queries at a time, and every query
// waiting beside the cost model's (which asks its sixteen at once) counts
// against the engine's admission queue.
const snapshotParallel = 2

// prefetcher evaluates the range queries a snapshot will read, a few at a
// time in the order it reads them, and hands each result to the first
// QueryRange asking for the same query and range. A snapshot used to read
// its few dozen queries one after another; it now reads the same queries,
// once each, with their evaluation overlapped. A call it has nothing
// prefetched for goes to the backend, as before.
type prefetcher struct {
	q      Querier
	cancel context.CancelFunc
	// workers are the evaluating goroutines; stop waits for them.
	workers sync.WaitGroup

	mu      sync.Mutex
	pending map[readKey][]*read
}

// readKey is one range query: its text and range.
type readKey struct {
	expr       string
	start, end int64 // Unix nanoseconds
	step       time.Duration
}

func keyOf(expr string, r query.Range) readKey {
	return readKey{expr: expr, start: r.Start.UnixNano(), end: r.End.UnixNano(), step: r.Step}
}

// read is one prefetched query; done is closed when res and err are set.
type read struct {
	key  readKey
	rng  query.Range
	done chan struct{}
	res  query.Result
	err  error
}

// newPrefetcher starts evaluating exprs over rng through q, one read per
// range QueryRangeSplit asks (Range.Chunks), parallel at a time. stop ends
// the evaluations not yet read.
func newPrefetcher(ctx context.Context, q Querier, exprs []string, rng query.Range, parallel int) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{q: q, cancel: cancel, pending: map[readKey][]*read{}}
	parts := rng.Chunks(query.DayChunk)
	jobs := make(chan *read, len(exprs)*len(parts))
	for _, e := range exprs {
		for _, r := range parts {
			x := &read{key: keyOf(e, r), rng: r, done: make(chan struct{})}
			p.pending[x.key] = append(p.pending[x.key], x)
			jobs <- x
		}
	}
	close(jobs)
	for range min(parallel, len(jobs)) {
		p.workers.Go(func() {
			for x := range jobs {
				if err := ctx.Err(); err != nil {
					x.err = err
				} else {
					x.res, x.err = q.QueryRange(ctx, x.key.expr, x.rng)
				}
				close(x.done)
			}
		})
	}
	return p
}

// QueryRange implements Querier: the prefetched result of expr over r if
// one is left, else the backend's answer.
func (p *prefetcher) QueryRange(ctx context.Context, expr string, r query.Range) (query.Result, error) {
	k := keyOf(expr, r)
	p.mu.Lock()
	var x *read
	if xs := p.pending[k]; len(xs) > 0 {
		x = xs[0]
		if len(xs) == 1 {
			delete(p.pending, k)
		} else {
			p.pending[k] = xs[1:]
		}
	}
	p.mu.Unlock()
	if x == nil {
		return p.q.QueryRange(ctx, expr, r)
	}
	select {
	case <-x.done:
		return x.res, x.err
	case <-ctx.Done():
		return query.Result{}, context.Cause(ctx)
	}
}

// unread is how many prefetched queries nobody asked for (a test checks
// the snapshot reads every one it prefetches).
func (p *prefetcher) unread() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, xs := range p.pending {
		n += len(xs)
	}
	return n
}

// stop cancels the evaluations not yet read and waits for them to end.
func (p *prefetcher) stop() {
	p.cancel()
	p.workers.Wait()
}

// Background returns the Diagnoser reading one query at a time, the
// fleet model after the snapshot, as a diagnosis did before they were
// overlapped: for evaluations nobody waits for (a dashboard's refresh in
// the background), which then leave the other core to the pages being
// served. Its reports are the same.
func (d *Diagnoser) Background() *Diagnoser {
	c := *d
	c.background = true
	return &c
}

// snapshotReads are the range queries Snapshot reads over its window, in
// the order it reads them: each engine's requests_running, the pod
// signals, the disaggregated-serving signals, the GPU signals, the health
// signals, which GPUs report profiling and which pods hold them, the
// targets down, the queue signals and the gateways. A read missing here
// is evaluated when Snapshot asks for it; one listed that Snapshot does
// not read would be evaluated for nothing (TestSnapshotReadsEveryPrefetch).
func (d *Diagnoser) snapshotReads() []string {
	var out []string
	for _, src := range d.engineQueries {
		out = append(out, src.Query)
	}
	named := func(names ...string) {
		for _, n := range names {
			out = append(out, d.queries[n])
		}
	}
	named(sigRunning, sigWaiting, sigKV, sigPreempt, sigSpec, sigPrompt, sigGen, sigTTFTp95, sigIterTok)
	named(sigRole, sigAsleep, sigKVLatency, sigKVFailures, sigKVExpired, sigKVQueue, sigWaitReason)
	named(sigBusy, sigDRAM, sigTensor, sigXID)
	for _, s := range health.Signals() {
		out = append(out, d.health.Query(s))
	}
	named(sigProfiling, sigGPUPod, sigDown)
	named(queueSignals...)
	named(sigQueueWaitP50, sigQueueWaitP95, sigQueueUntilReady95, sigGatewayQueued)
	return out
}

// Range is the range query reading the window's steps.
func (w Window) Range() query.Range { return query.Range{Start: w.Start, End: w.End, Step: w.Step} }

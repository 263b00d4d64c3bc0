package fleet

import (
	"context"
	"sync"
	"time"
)

// endReads are the serving totals at the end of a window, read
// concurrently with the cost integration (ComputeCluster). The unusable
// GPUs are read after it, as before: their health series over the
// lookback are then usually the tail of the diagnosis' reads of the same
// series, which a query cache answers without evaluating them again.
type endReads struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	serving    Serving
	servingErr error
}

// atEnd starts reading the serving totals of one cluster (every one with
// name "") at t.
func (c *Calculator) atEnd(ctx context.Context, q Querier, name string, t time.Time) *endReads {
	ctx, cancel := context.WithCancel(ctx)
	r := &endReads{cancel: cancel}
	r.wg.Go(func() { r.serving, r.servingErr = c.serving1(ctx, q, name, t) })
	return r
}

// wait waits for the reads.
func (r *endReads) wait() {
	r.wg.Wait()
	r.cancel()
}

// stop cancels the reads (the model failed) and waits for them.
func (r *endReads) stop() {
	r.cancel()
	r.wg.Wait()
}

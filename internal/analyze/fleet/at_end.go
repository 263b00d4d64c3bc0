package fleet

import (
	"context"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/health"
)

// endReads are the serving totals and the unusable GPUs at the end of a
// window, read concurrently with the cost integration (ComputeCluster).
type endReads struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	serving     Serving
	servingErr  error
	unusable    []health.Unusable
	unusableErr error
}

// atEnd starts reading the serving totals and the unusable GPUs of one
// cluster (every one with name "") at t.
func (c *Calculator) atEnd(ctx context.Context, q Querier, name string, t time.Time) *endReads {
	ctx, cancel := context.WithCancel(ctx)
	r := &endReads{cancel: cancel}
	r.wg.Go(func() { r.serving, r.servingErr = c.serving1(ctx, q, name, t) })
	r.wg.Go(func() { r.unusable, r.unusableErr = c.Unusable(ctx, q, name, t) })
	return r
}

// wait waits for both reads.
func (r *endReads) wait() {
	r.wg.Wait()
	r.cancel()
}

// stop cancels the reads (the model failed) and waits for them.
func (r *endReads) stop() {
	r.cancel()
	r.wg.Wait()
}

package diagnose

import (
	"context"
	"time"

	"github.com/servescope/servescope/internal/analyze/fleet"
)

// fleetRun is the fleet model computed beside the snapshot (Diagnose):
// the two read different queries, and the model needs only the window.
type fleetRun struct {
	// done is nil when nothing was started: into then computes the model
	// after the snapshot, as Fleet does (no fleet model, a querier that
	// cannot answer it, a window the snapshot refuses, or a Background
	// diagnoser).
	done   chan struct{}
	stop   context.CancelFunc
	window Window
	m      *fleet.Model
	err    error
}

// startFleet starts computing the fleet model over the window the
// snapshot at (at, window) will cover.
func (d *Diagnoser) startFleet(ctx context.Context, at time.Time, window time.Duration) *fleetRun {
	run := &fleetRun{}
	if d.fleet == nil || d.background {
		return run
	}
	fq, ok := d.q.(fleet.Querier)
	if !ok {
		return run
	}
	w, err := d.window(at, window)
	if err != nil {
		return run
	}
	ctx, stop := context.WithCancel(ctx)
	run.done, run.stop, run.window = make(chan struct{}), stop, w
	go func() {
		defer close(run.done)
		// The cost package's default step, as Fleet uses.
		run.m, run.err = d.fleet.Compute(ctx, fq, w.Start, w.End, 0)
	}()
	return run
}

// cancel stops the computation (the snapshot failed) and waits for it.
func (f *fleetRun) cancel() {
	if f.done == nil {
		return
	}
	f.stop()
	<-f.done
}

// into waits for the model and puts it on r; without a started run it
// computes it as Fleet does.
func (f *fleetRun) into(ctx context.Context, d *Diagnoser, s *Snapshot, r *Report) error {
	if f.done == nil || !f.window.Start.Equal(s.Window.Start) || !f.window.End.Equal(s.Window.End) {
		f.cancel()
		return d.Fleet(ctx, s, r)
	}
	defer f.stop()
	select {
	case <-f.done:
	case <-ctx.Done():
		f.cancel()
		return d.withFleet(r, nil, context.Cause(ctx))
	}
	return d.withFleet(r, f.m, f.err)
}

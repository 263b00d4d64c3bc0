package query

import (
	"context"
	"sync"
	"time"
)

// Foreground counts the interactive requests in progress (dashboard
// pages), so that background work which can wait a little, the rule
// manager between two rules, lets them have the CPU first when it is
// short: in a pod held to one core at 10,000 GPUs the rule evaluation
// takes most of each interval, and a page shared the core with it. The
// zero value is ready to use.
type Foreground struct {
	mu   sync.Mutex
	n    int           // requests in progress
	idle chan struct{} // closed when the last request in progress ends; nil while none is
}

// Begin marks a request in progress until the returned function is
// called; calling it again does nothing.
func (f *Foreground) Begin() (end func()) {
	f.mu.Lock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.n--; f.n == 0 {
				close(f.idle)
				f.idle = nil
			}
			f.mu.Unlock()
		})
	}
}

// Wait returns when no request is in progress, at deadline or when ctx
// ends, whichever comes first, with how long it waited (0 when no request
// was in progress or the deadline had passed).
func (f *Foreground) Wait(ctx context.Context, deadline time.Time) time.Duration {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	d := time.Until(deadline)
	if idle == nil || d <= 0 {
		return 0
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
	return time.Since(start)
}

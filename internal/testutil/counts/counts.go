// Package counts records the calls of a Progress func(done, total int)
// callback (the report's panels, generate's steps) and checks them
// (imported by _test.go files only).
package counts

import (
	"sync"
	"testing"
)

// Recorder records progress calls; Record is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls [][2]int
}

// Record is the callback: pass r.Record as the Progress option.
func (r *Recorder) Record(done, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, [2]int{done, total})
}

// Calls are the calls so far, as [done, total] pairs.
func (r *Recorder) Calls() [][2]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]int(nil), r.calls...)
}

// Reset forgets the calls so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// CheckComplete fails t unless the calls counted 1, 2, ... up to one
// total, the same in every call, with at least least calls; it returns
// the total.
func (r *Recorder) CheckComplete(t testing.TB, least int) int {
	t.Helper()
	calls := r.Calls()
	if len(calls) < least {
		t.Fatalf("progress calls %v: want at least %d", calls, least)
	}
	total := calls[0][1]
	for i, c := range calls {
		if c != [2]int{i + 1, total} {
			t.Errorf("progress call %d: %v, want [%d %d]", i, c, i+1, total)
		}
	}
	if len(calls) != total {
		t.Errorf("%d progress calls, want %d (the total)", len(calls), total)
	}
	return total
}

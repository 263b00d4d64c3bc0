package schema

import "sync"

// memoKey is what a built-in catalog depends on: the options with their
// defaults set, Signals nil.
type memoKey struct {
	unallocatedPod, teamLabel, clusterLabel string
}

// memoMax bounds the catalogs kept: a process normally builds one; beyond
// this many option sets, catalogs are built and not kept.
const memoMax = 16

// memo keeps the built-in catalog per options. A Catalog is immutable and
// safe for concurrent use, so each is built (every query composed and
// parsed) once per process, however many callers ask for it; an error is
// kept too, as building again would give it again.
type memo struct {
	mu sync.Mutex
	by map[memoKey]func() (*Catalog, error)
}

var builtins = &memo{}

// get returns the built-in catalog for opts (defaults set), building it
// on first use.
func (m *memo) get(opts Options) (*Catalog, error) {
	k := memoKey{opts.UnallocatedPod, opts.TeamLabel, opts.ClusterLabel}
	m.mu.Lock()
	once, ok := m.by[k]
	if !ok {
		once = sync.OnceValues(func() (*Catalog, error) { return build(opts) })
		if m.by == nil {
			m.by = map[memoKey]func() (*Catalog, error){}
		}
		if len(m.by) < memoMax {
			m.by[k] = once
		}
	}
	m.mu.Unlock()
	return once()
}

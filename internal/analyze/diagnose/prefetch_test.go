package diagnose

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/script"
)

// callLog records the range queries a backend is asked.
type callLog struct {
	q     Querier
	mu    sync.Mutex
	calls []string
}

func (c *callLog) QueryRange(ctx context.Context, q string, r query.Range) (query.Result, error) {
	c.mu.Lock()
	c.calls = append(c.calls, fmt.Sprintf("%s %d %d %s", q, r.Start.Unix(), r.End.Unix(), r.Step))
	c.mu.Unlock()
	return c.q.QueryRange(ctx, q, r)
}

func (c *callLog) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(slices.Values(c.calls))
}

// TestSnapshotReadsEveryPrefetch: on every diagnosis script's data, raw
// and recorded, a snapshot with its queries evaluated ahead asks the
// backend exactly the queries the one-after-another snapshot asks (none
// more: every prefetched query is read; none twice) and is the same
// snapshot.
func TestSnapshotReadsEveryPrefetch(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "*.test"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	cases := 0
	for _, path := range paths {
		s, err := script.Parse(path, "diagnose")
		if err != nil {
			t.Fatal(err)
		}
		eng := script.Engine(t, s)
		for _, c := range s.Commands {
			if c.Verb != "diagnose" || len(c.Args) != 4 {
				continue
			}
			at, err1 := time.ParseDuration(c.Args[1])
			window, err2 := time.ParseDuration(c.Args[3])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v %v", c.Where(s), err1, err2)
			}
			end := time.Unix(0, 0).UTC().Add(at)
			for _, recorded := range []bool{false, true} {
				seq, ahead := &callLog{q: eng}, &callLog{q: eng}
				dSeq, err := New(Options{Querier: seq, Catalog: cat, Recorded: recorded})
				if err != nil {
					t.Fatal(err)
				}
				dAhead, err := New(Options{Querier: ahead, Catalog: cat, Recorded: recorded})
				if err != nil {
					t.Fatal(err)
				}
				w, err := dSeq.window(end, window)
				if err != nil {
					continue // the script expects the error
				}
				want, err := dSeq.snapshot(t.Context(), w)
				if err != nil {
					t.Fatalf("%s: %v", c.Where(s), err)
				}
				got, err := dAhead.Snapshot(t.Context(), end, window)
				if err != nil {
					t.Fatalf("%s: %v", c.Where(s), err)
				}
				if !sameNaN(reflect.ValueOf(got), reflect.ValueOf(want)) {
					t.Errorf("%s recorded=%v: the snapshot differs from the one read query by query:\n got %+v\nwant %+v", c.Where(s), recorded, *got, *want)
				}
				if g, w := ahead.sorted(), seq.sorted(); !slices.Equal(g, w) {
					t.Errorf("%s recorded=%v: backend asked\n%s\nwant\n%s", c.Where(s), recorded, strings.Join(g, "\n"), strings.Join(w, "\n"))
				}
				// The background diagnoser (one query at a time) reports
				// the same.
				fg, err := dAhead.Diagnose(t.Context(), end, window)
				if err != nil {
					t.Fatalf("%s: %v", c.Where(s), err)
				}
				bg, err := dSeq.Background().Diagnose(t.Context(), end, window)
				if err != nil {
					t.Fatalf("%s: %v", c.Where(s), err)
				}
				if !sameNaN(reflect.ValueOf(fg), reflect.ValueOf(bg)) {
					t.Errorf("%s recorded=%v: the background diagnosis differs:\n got %+v\nwant %+v", c.Where(s), recorded, *bg, *fg)
				}
				cases++
			}
		}
	}
	if cases == 0 {
		t.Fatal("no diagnosis in the scripts")
	}
}

// TestPrefetcherStops: a snapshot that fails part-way (its context ends)
// leaves no evaluation running, and a read nobody prefetched goes to the
// backend.
func TestPrefetcherStops(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var mu sync.Mutex
	started := 0
	q := querierFunc(func(ctx context.Context, expr string, r query.Range) (query.Result, error) {
		mu.Lock()
		started++
		mu.Unlock()
		if expr == "slow" {
			select {
			case <-block:
			case <-ctx.Done():
				return query.Result{}, ctx.Err()
			}
		}
		return query.Result{Infos: []string{expr}}, nil
	})
	rng := query.Range{Start: time.Unix(0, 0), End: time.Unix(3600, 0), Step: time.Minute}
	p := newPrefetcher(t.Context(), q, []string{"slow", "slow", "slow", "fast", "fast"}, rng, 2)
	res, err := p.QueryRange(t.Context(), "other", rng)
	if err != nil || len(res.Infos) != 1 || res.Infos[0] != "other" {
		t.Fatalf("a query not prefetched: %v %v", res, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if _, err := p.QueryRange(ctx, "slow", rng); err == nil {
		t.Fatal("a read whose context ended returned no error")
	}
	p.stop() // returns only once the workers have ended
	mu.Lock()
	defer mu.Unlock()
	if started > 3 { // two slow ones running, at most one more begun
		t.Errorf("%d evaluations began after the reader gave up", started)
	}
	if n := p.unread(); n != 4 {
		t.Errorf("unread %d, want 4", n)
	}
}

type querierFunc func(ctx context.Context, expr string, r query.Range) (query.Result, error)

func (f querierFunc) QueryRange(ctx context.Context, expr string, r query.Range) (query.Result, error) {
	return f(ctx, expr, r)
}

// sameNaN is reflect.DeepEqual with NaN equal to NaN (tracks hold NaN
// for steps without data).
func sameNaN(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || (math.IsNaN(x) && math.IsNaN(y))
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameNaN(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameNaN(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameNaN(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !sameNaN(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	}
	panic("sameNaN: cannot compare " + a.Type().String())
}

package schema

import (
	"reflect"
	"sync"
	"testing"
)

func TestNewSharesBuiltinCatalog(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The defaults spelt out are the same options.
	b, err := New(Options{UnallocatedPod: ".*dcgm-exporter.*", TeamLabel: "team", ClusterLabel: DefaultClusterLabel})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("New with the default options built the catalog twice")
	}
	other, err := New(Options{TeamLabel: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	if other == a {
		t.Error("a catalog with another team label is the default one")
	}
	// Each option set still has its own queries.
	qa, _ := a.Query("namespace_team")
	qo, _ := other.Query("namespace_team")
	if qa == qo {
		t.Errorf("team label ignored: both catalogs query %s", qa)
	}
	// Injected signals are never shared.
	c1, err := New(Options{Signals: builtinSignals()})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := New(Options{Signals: builtinSignals()})
	if err != nil {
		t.Fatal(err)
	}
	if c1 == c2 || c1 == a {
		t.Error("catalogs of injected signals are shared")
	}
	// The shared catalog is the one a fresh build gives.
	for _, s := range a.Signals() {
		for _, get := range []func(*Catalog, string) (string, error){(*Catalog).Query, (*Catalog).RangeCheck} {
			want, err := get(c1, s.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := get(a, s.Name); got != want {
				t.Errorf("%s: shared catalog has\n%s\nfresh build\n%s", s.Name, got, want)
			}
		}
	}
}

func TestNewConcurrent(t *testing.T) {
	const n = 8
	cats := make([]*Catalog, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := New(Options{ClusterLabel: "k8s_cluster"})
			if err != nil {
				t.Error(err)
			}
			cats[i] = c
		})
	}
	wg.Wait()
	for _, c := range cats[1:] {
		if c != cats[0] {
			t.Fatal("concurrent New built the catalog more than once")
		}
	}
}

// TestMemoKeyCoversOptions fails when Options gains a field memoKey does
// not hold: two option sets differing in it would share one catalog.
func TestMemoKeyCoversOptions(t *testing.T) {
	opts, key := reflect.TypeFor[Options](), reflect.TypeFor[memoKey]()
	if opts.NumField() != key.NumField()+1 { // + Signals, never memoised
		t.Errorf("Options has %d fields, memoKey %d (+ Signals): add the new option to memoKey and memo.get", opts.NumField(), key.NumField())
	}
}

package counts

import "testing"

// TestCheckComplete: a complete count passes; a count that skips, stops
// short or changes its total fails.
func TestCheckComplete(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		calls [][2]int
		fail  bool
	}{
		{"complete", [][2]int{{1, 3}, {2, 3}, {3, 3}}, false},
		{"skips", [][2]int{{1, 3}, {3, 3}}, true},
		{"short", [][2]int{{1, 3}, {2, 3}}, true},
		{"total changes", [][2]int{{1, 2}, {2, 3}, {3, 3}}, true},
		{"too few", [][2]int{{1, 1}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r Recorder
			for _, c := range tc.calls {
				r.Record(c[0], c[1])
			}
			ft := &fakeT{TB: t}
			func() {
				defer func() { _ = recover() }() // Fatalf stops the check
				r.CheckComplete(ft, 2)
			}()
			if ft.failed != tc.fail {
				t.Errorf("failed %v, want %v", ft.failed, tc.fail)
			}
		})
	}
}

// fakeT records a failure instead of failing the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; panic("fatal") }

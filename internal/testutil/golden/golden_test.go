package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		want, got, msg string
	}{
		{"a\nb\n", "a\nb\n", ""},
		{"a\nb\n", "a\nc\n", "differs at line 2 (3 lines, want 3):\n got: c\nwant: b"},
		{"a\n", "a\nb\n", "differs at line 2 (3 lines, want 2):\n got: b\nwant: "},
		{"a\nb", "a", "differs at line 2 (1 lines, want 2):\n got: <end of file>\nwant: b"},
	} {
		if got := Diff([]byte(tc.want), []byte(tc.got)); got != tc.msg {
			t.Errorf("Diff(%q, %q) = %q, want %q", tc.want, tc.got, got, tc.msg)
		}
	}
}

// recorder is a testing.TB that records failures instead of failing; its
// Fatalf returns, so a comparison may record more than one.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, f) }
func (r *recorder) Fatalf(f string, a ...any) { r.errs = append(r.errs, f) }

func TestCompare(t *testing.T) {
	if Update() {
		t.Skip("-update rewrites instead of comparing")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.golden")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Compare(r, path, []byte("one\ntwo\n"))
	if len(r.errs) != 0 {
		t.Errorf("equal content failed: %v", r.errs)
	}
	Compare(r, path, []byte("one\nthree\n"))
	if len(r.errs) != 1 {
		t.Errorf("different content: %d failures, want 1", len(r.errs))
	}
	r.errs = nil
	Compare(r, filepath.Join(dir, "missing"), nil)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "-update") {
		t.Errorf("missing file: %v", r.errs)
	}
}

func TestCompareDir(t *testing.T) {
	if Update() {
		t.Skip("-update rewrites instead of comparing")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "a"), []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		files map[string][]byte
		bad   bool
	}{
		{map[string][]byte{"sub/a": []byte("A")}, false},
		{map[string][]byte{"sub/a": []byte("B")}, true},
		{map[string][]byte{"sub/a": []byte("A"), "b": nil}, true},
		{map[string][]byte{}, true},
	} {
		r := &recorder{TB: t}
		CompareDir(r, dir, tc.files)
		if bad := len(r.errs) > 0; bad != tc.bad {
			t.Errorf("%v: failed=%v, want %v: %v", tc.files, bad, tc.bad, r.errs)
		}
	}
}

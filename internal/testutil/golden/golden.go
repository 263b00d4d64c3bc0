// Package golden is the test kit's one golden-file helper and its one
// -update flag (imported by _test.go files only): Compare checks a file,
// CompareDir a directory both ways (no file missing, none extra), and under
// `go test -update` both rewrite what they compare.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update is the one -update flag of every package's tests.
var update = flag.Bool("update", false, "rewrite the golden files the tests compare with (review the diff before committing)")

// Update reports whether the tests run with -update.
func Update() bool { return *update }

// Compare fails t when got differs from the file at path, naming the first
// line that differs; under -update it writes got to path instead.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		write(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test with -update to create it)", err)
	}
	if msg := Diff(want, got); msg != "" {
		t.Errorf("%s: %s\n(run go test with -update and review the diff)", path, msg)
	}
}

// CompareDir compares files (slash-separated paths relative to dir) with
// the tree under dir, both ways; under -update it replaces the tree.
func CompareDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for p, b := range files {
			write(t, filepath.Join(dir, filepath.FromSlash(p)), b)
		}
		return
	}
	var have []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		have = append(have, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("read golden directory: %v (run go test with -update to create it)", err)
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	slices.Sort(have)
	if !slices.Equal(paths, have) {
		t.Fatalf("%s: the files differ (run go test with -update):\ngot  %v\nwant %v", dir, paths, have)
	}
	for _, p := range paths {
		Compare(t, filepath.Join(dir, filepath.FromSlash(p)), files[p])
	}
}

// Diff describes the first difference between want and got by line, or
// returns "" when they are equal.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		w, g := "<end of file>", "<end of file>"
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("differs at line %d (%d lines, want %d):\n got: %s\nwant: %s", i+1, len(gl), len(wl), g, w)
		}
	}
	return "differs" // unreachable: equal lines make equal bytes
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

package fleet

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/glossary.md")

// TestGlossaryDoc keeps docs/glossary.md generated from Glossary.
func TestGlossaryDoc(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "glossary.md")
	got := GlossaryMarkdown()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/analyze/fleet -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run go test ./internal/analyze/fleet -update", path)
	}
}

// TestDefine: every word is defined once and found case-insensitively.
func TestDefine(t *testing.T) {
	seen := map[string]bool{}
	for _, term := range Glossary() {
		if seen[term.Word] {
			t.Errorf("%q defined twice", term.Word)
		}
		seen[term.Word] = true
		if Define(term.Word) == "" {
			t.Errorf("Define(%q) is empty", term.Word)
		}
	}
	for _, w := range []string{"physical GPUs", "GPU-equivalents", "allocatable", "reserved", "allocated", "used", "idle", "unused"} {
		if !seen[w] {
			t.Errorf("glossary lacks %q", w)
		}
	}
	if Define("Idle") == "" || Define("nonsense") != "" {
		t.Error("Define: case-insensitive lookup of words only")
	}
}

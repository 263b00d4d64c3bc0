package fleet

import (
	"path/filepath"
	"testing"

	"github.com/servescope/servescope/internal/testutil/golden"
)

// TestGlossaryDoc keeps docs/glossary.md generated from Glossary.
func TestGlossaryDoc(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "glossary.md")
	golden.Compare(t, path, GlossaryMarkdown())
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

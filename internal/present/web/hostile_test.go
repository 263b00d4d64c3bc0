package web

import (
	"strings"
	"testing"
)

// TestMarkdownHostileLabels: control bytes in a label value are written
// escaped into the Markdown report.
func TestMarkdownHostileLabels(t *testing.T) {
	got := mdText("pod\x1b[2J\x07\u202e\nnext")
	for _, raw := range []string{"\x1b", "\x07", "\u202e", "\n"} {
		if strings.Contains(got, raw) {
			t.Errorf("raw %q in %q", raw, got)
		}
	}
	if !strings.Contains(got, "x1b") {
		t.Errorf("escape byte not shown: %q", got)
	}
}

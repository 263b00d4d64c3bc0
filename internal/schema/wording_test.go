package schema

import (
	"regexp"
	"testing"
)

// notesToSelf are words of a draft, not of a user-facing text.
var notesToSelf = regexp.MustCompile(`(?i)\b(verify|from memory|todo|fixme|xxx|tbd|not sure|i think)\b|\(check\)`)

// TestNoNotesToSelf checks every text `signals`, `explain` and
// docs/signals.md show: help, notes and versions.
func TestNoNotesToSelf(t *testing.T) {
	t.Parallel()
	cat, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cat.Signals() {
		texts := []string{s.Help}
		for _, src := range s.Sources {
			texts = append(texts, src.Note, src.Versions)
		}
		for _, txt := range texts {
			if m := notesToSelf.FindString(txt); m != "" {
				t.Errorf("signal %s: %q in %q", s.Name, m, txt)
			}
		}
	}
}

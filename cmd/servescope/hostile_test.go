package main

import (
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// TestDiagnoseHostileLabels: a pod name with terminal escapes is printed
// escaped by `servescope diagnose`.
func TestDiagnoseHostileLabels(t *testing.T) {
	r := &diagnose.Report{At: time.Unix(0, 0), Window: time.Hour, Findings: []diagnose.Finding{{
		Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "ns", Pod: "p\x1b[2J\x1b]0;pwned\x07"},
		State:   diagnose.StateIdle, Action: "act\x1b[31m",
	}}}
	var b strings.Builder
	if err := writeFindings(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\x1b", "\x07"} {
		if strings.Contains(b.String(), raw) {
			t.Errorf("raw %q in diagnose's output:\n%q", raw, b.String())
		}
	}
}

package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// TestTopHostileLabels: escape sequences in label values reach the
// terminal escaped, never raw.
func TestTopHostileLabels(t *testing.T) {
	var b strings.Builder
	rows := []TopRow{{Namespace: "ns\x1b[2J", Pod: "pod\x1b]0;pwned\x07", Model: "m\u202eevil"}}
	if err := RenderTop(&b, TopView{Server: "http://x\x1b[31m", At: time.Unix(0, 0), Rows: rows}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, raw := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out, raw) {
			t.Errorf("raw %q in top's output:\n%q", raw, out)
		}
	}
	if !strings.Contains(out, `pod\x1b]0;pwned\x07`) {
		t.Errorf("the pod is not shown escaped:\n%s", out)
	}
}

// TestDiagnoseHostileLabels: a pod name, an action and a model with
// terminal escapes are printed escaped by `servescope diagnose`.
func TestDiagnoseHostileLabels(t *testing.T) {
	r := &diagnose.Report{At: time.Unix(0, 0), Window: time.Hour, Findings: []diagnose.Finding{{
		Subject: diagnose.Subject{Level: diagnose.LevelPod, Namespace: "ns", Pod: "p\x1b[2J\x1b]0;pwned\x07"},
		State:   diagnose.StateIdle, Action: "act\x1b[31m",
	}}, Capacity: []diagnose.Capacity{{Model: "m\x1b[2J", Advice: "none"}}}
	var b strings.Builder
	if err := WriteDiagnosis(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\x1b", "\x07"} {
		if strings.Contains(b.String(), raw) {
			t.Errorf("raw %q in diagnose's output:\n%q", raw, b.String())
		}
	}
}

package cli

import (
	"strings"
	"testing"
	"time"
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

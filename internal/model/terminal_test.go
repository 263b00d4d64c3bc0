package model

import "testing"

func TestTerminalSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"vllm-0", "vllm-0"},
		{"llama-3.1 ü 模型", "llama-3.1 ü 模型"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\x07`},
		{"a\nb\tc\rd", `a\x0ab\x09c\x0dd`},
		{"del\x7f", `del\x7f`},
		{"c1\u009b31m", `c1\u009b31m`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"evil\u202egnp.exe", `evil\u202egnp.exe`},
		{`back\slash`, `back\slash`},
	} {
		if got := TerminalSafe(tc.in); got != tc.want {
			t.Errorf("TerminalSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := TerminalSafe(TerminalSafe(tc.in)); got != tc.want {
			t.Errorf("TerminalSafe is not idempotent on %q: %q", tc.in, got)
		}
	}
}

func FuzzTerminalSafe(f *testing.F) {
	f.Add("\x1b[31mred")
	f.Add("\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		out := TerminalSafe(s)
		if needsEscape(out) {
			t.Errorf("TerminalSafe(%q) = %q still holds unsafe bytes", s, out)
		}
	})
}

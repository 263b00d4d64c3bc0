// Package model is servescope's shared vocabulary below every other
// package: small types and functions on the standard library only.
package model

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TerminalSafe returns s with every byte that could control a terminal or
// reorder text escaped, so that a label value printed by `top`, `diagnose`
// or written to a Markdown report shows as text: C0 and C1 control
// characters and DEL as \xNN or \u00NN (tab and newline included: a
// value is one cell), invalid UTF-8 as \xNN, and the Unicode
// bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) as
// \uNNNN. Everything else, backslashes included, is left as is.
func TerminalSafe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

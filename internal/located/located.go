// Package located is the project's one error type for bad input found in a
// file: the file, the 1-based line when there is one, and the reason, printed
// as "file:line: reason". The config, the scenarios and the price book all
// report through it.
//
// It is a leaf: standard library and the YAML decoder only, so that the
// simulator and the analysis packages can use it without linking the heavy
// dependencies of internal/config.
package located

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is bad input located in its file.
type Error struct {
	File string
	// Line is 1-based; 0 when the error has no single place in the file.
	Line   int
	Reason string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Errors is every error found in one file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// FromYAML locates the first error of a yaml.v3 decode ("yaml: line 3: ..."
// or a *yaml.TypeError with "line N: ..." entries) in file. The line is 0
// when the message carries none.
func FromYAML(file string, err error) *Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &Error{File: file, Line: line, Reason: msg}
}

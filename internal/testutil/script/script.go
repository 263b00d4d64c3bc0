// Package script is the test kit's one runner of promqltest-style script
// tests (imported by _test.go files only). A script holds `load` blocks in
// promqltest's syntax and command lines whose first word is a verb the test
// registers (`diagnose`, `cost`); the lines under a command are its body
// (expectations). A blank or comment line ends a load block, as in
// promqltest.
//
// Run runs every script of a glob as a parallel subtest over an embedded
// engine holding its series; a verb may return output, and a script whose
// verbs returned any is compared, as JSON, with <script>.golden.json.
package script

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/located"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// Script is one parsed script file.
type Script struct {
	Path string
	// Load is the load blocks as promqltest reads them.
	Load     string
	Commands []*Command
}

// Command is one verb line and the lines under it.
type Command struct {
	Line int
	// Verb is the command's first word; Args the words after it.
	Verb string
	Args []string
	// Text is the line as written, trimmed.
	Text string
	Body []Line
}

// Line is one line of a command's body.
type Line struct {
	Line   int
	Fields []string
}

// Where names the command's place in its script for messages.
func (c *Command) Where(s *Script) string { return fmt.Sprintf("%s:%d", s.Path, c.Line) }

// Parse reads the script at path whose commands are the given verbs.
func Parse(path string, verbs ...string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	return ParseBytes(path, b, verbs...)
}

// ParseBytes parses data as the script named path.
func ParseBytes(path string, data []byte, verbs ...string) (*Script, error) {
	s := &Script{Path: path}
	isVerb := map[string]bool{}
	for _, v := range verbs {
		isVerb[v] = true
	}
	var load []string
	inLoad := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			inLoad = false
		case fields[0] == "load":
			inLoad = true
			load = append(load, "", line)
		case isVerb[fields[0]]:
			inLoad = false
			s.Commands = append(s.Commands, &Command{Line: n, Verb: fields[0], Args: fields[1:], Text: line})
		case inLoad:
			load = append(load, "  "+line)
		case len(s.Commands) == 0:
			return nil, &located.Error{File: path, Line: n, Reason: fmt.Sprintf("%q is neither in a load block nor under a command (%s)", line, strings.Join(verbs, ", "))}
		default:
			c := s.Commands[len(s.Commands)-1]
			c.Body = append(c.Body, Line{Line: n, Fields: fields})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read script %s: %w", path, err)
	}
	s.Load = strings.Join(load, "\n") + "\n"
	return s, nil
}

// Engine returns an embedded engine over the script's loaded series (a
// storage the test closes).
func Engine(t testing.TB, s *Script) *query.Engine {
	t.Helper()
	st := promqltest.LoadedStorage(t, s.Load)
	return query.NewEngine(st, query.EngineOptions{Timeout: time.Minute, MaxSamples: 1e7, Registerer: prometheus.NewRegistry()})
}

// Verb runs one command over the script's engine. It fails t on a broken
// expectation; what it returns, when not nil, is recorded in the script's
// golden file with the command's text.
type Verb func(t *testing.T, q query.Querier, s *Script, c *Command) any

// Run runs every script matching glob as a parallel subtest.
func Run(t *testing.T, glob string, verbs map[string]Verb) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts match %s: %v", glob, err)
	}
	names := make([]string, 0, len(verbs))
	for v := range verbs {
		names = append(names, v)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			s, err := Parse(f, names...)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Commands) == 0 {
				t.Fatalf("%s: no commands (%s)", f, strings.Join(names, ", "))
			}
			eng := Engine(t, s)
			var out []any
			for _, c := range s.Commands {
				if o := verbs[c.Verb](t, eng, s, c); o != nil {
					out = append(out, map[string]any{"cmd": c.Text, "report": o})
				}
			}
			if out == nil {
				return
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, strings.TrimSuffix(f, ".test")+".golden.json", append(got, '\n'))
		})
	}
}

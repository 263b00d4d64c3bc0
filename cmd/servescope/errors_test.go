package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestServerDownErrors runs every command that reads a server against an
// address nobody listens on: each says in one line what failed (the URL)
// and what to do, prints nothing on stdout, and none repeats the dial
// error per query or says "context canceled".
func TestServerDownErrors(t *testing.T) {
	t.Parallel()
	server := "http://" + proc.FreeAddr(t) // free: nothing listens there
	for _, args := range [][]string{
		{"cost", "--window", "-1h"},
		{"cost", "--window", "24h", "--split", "1h"},
		{"summary"},
		{"diagnose", "--at", "yesterday"},
		{"diagnose", "--output", "json"},
		{"top", "--once"},
		{"signals", "--unmatched"},
		{"report", "--window", "6h"},
		{"report", "utilisation", "--since", "2h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append(slices.Clone(args), "--server", server), env{stdout: &stdout, stderr: &stderr})
			msg := stderr.String()
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout before the error:\n%s", stdout.String())
			}
			if n := strings.Count(msg, "\n"); n != 1 {
				t.Errorf("%d lines on stderr, want 1:\n%s", n, msg)
			}
			for _, want := range []string{server, "is servescope running?"} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "context canceled") || strings.Contains(msg, "query") {
				t.Errorf("stderr has query noise:\n%s", msg)
			}
		})
	}
}

// TestTimeFlagErrors checks that a bad time, duration or window names the
// flag and lists the accepted forms, and that negative durations are
// values, not flags.
func TestTimeFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"diagnose", "--at", "soon"}, []string{"--at", "RFC 3339", "Unix seconds", "-1h", "yesterday"}},
		{[]string{"report", "--at", "2026-13-01"}, []string{"--at", "RFC 3339"}},
		{[]string{"diagnose", "--since", "a while"}, []string{"--since", "1h30m"}},
		{[]string{"cost", "--window", "soon"}, []string{"window \"soon\"", "today", "START,END", "Unix seconds"}},
		{[]string{"top", "--once", "--window", "0s"}, []string{"--window", "15m"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append(slices.Clone(tc.args), "--server", "http://"+proc.FreeAddr(t)), env{stdout: &stdout, stderr: &stderr})
			if code == 0 {
				t.Fatalf("exit code 0 for %v", tc.args)
			}
			msg := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "2006-01-02") || strings.Contains(msg, "expected argument") {
				t.Errorf("stderr shows Go's layout or a flag parse error:\n%s", msg)
			}
		})
	}
}

func TestJoinNegative(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"cost", "--window", "-1h"}, []string{"cost", "--window=-1h"}},
		{[]string{"diagnose", "--at", "-2h", "--since", "-30m"}, []string{"diagnose", "--at=-2h", "--since=-30m"}},
		{[]string{"cost", "--window", "--by", "team"}, []string{"cost", "--window", "--by", "team"}},
		{[]string{"cost", "--", "--window", "-1h"}, []string{"cost", "--", "--window", "-1h"}},
		{[]string{"top", "--interval", "-5s"}, []string{"top", "--interval", "-5s"}},
		{[]string{"cost", "--window"}, []string{"cost", "--window"}},
	} {
		if got := joinNegative(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("joinNegative(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAutoMemLimitRatioError: a share of memory outside (0, 1] stops
// serve before it starts, naming the flag.
func TestAutoMemLimitRatioError(t *testing.T) {
	t.Parallel()
	for _, ratio := range []string{"0", "1.5", "-0.2"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"serve", "--auto-gomemlimit.ratio", ratio, "--config", "does-not-matter.yml"}, env{stdout: &stdout, stderr: &stderr})
		if code == 0 || !strings.Contains(stderr.String(), "--auto-gomemlimit.ratio") {
			t.Errorf("ratio %s: exit %d, stderr:\n%s", ratio, code, stderr.String())
		}
	}
}

package script

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	src := `# a comment
load 1m
  up{job="a"} 1x10
   up{job="b"} 0x10
check at 5m
  want up 1
  want down 0

# the load above ended at the blank line
load 5m
  x 1 2
check at 10m
other 1 2
`
	s, err := ParseBytes("t.test", []byte(src), "check", "other")
	if err != nil {
		t.Fatal(err)
	}
	wantLoad := "\nload 1m\n  up{job=\"a\"} 1x10\n  up{job=\"b\"} 0x10\n\nload 5m\n  x 1 2\n"
	if s.Load != wantLoad {
		t.Errorf("load = %q, want %q", s.Load, wantLoad)
	}
	if len(s.Commands) != 3 {
		t.Fatalf("%d commands, want 3", len(s.Commands))
	}
	c := s.Commands[0]
	if c.Line != 5 || c.Verb != "check" || strings.Join(c.Args, " ") != "at 5m" || len(c.Body) != 2 || c.Body[1].Line != 7 || c.Body[1].Fields[1] != "down" {
		t.Errorf("first command = %+v", c)
	}
	if c := s.Commands[2]; c.Verb != "other" || c.Text != "other 1 2" || len(c.Body) != 0 || c.Where(s) != "t.test:13" {
		t.Errorf("third command = %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseBytes("t.test", []byte("load 1m\n  x 1\n\nstray line\n"), "check")
	if err == nil || err.Error() != `t.test:4: "stray line" is neither in a load block nor under a command (check)` {
		t.Errorf("err = %v", err)
	}
}

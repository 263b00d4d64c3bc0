package located

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{File: "a.yml", Line: 3, Reason: "bad"}, "a.yml:3: bad"},
		{&Error{File: "a.yml", Reason: "empty"}, "a.yml: empty"},
		{Errors{{File: "a.yml", Line: 1, Reason: "x"}, {File: "a.yml", Line: 2, Reason: "y"}}, "a.yml:1: x\na.yml:2: y"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestFromYAML(t *testing.T) {
	var v struct {
		N int `yaml:"n"`
	}
	for _, tc := range []struct {
		doc  string
		line int
		want string
	}{
		{"n: 1\nn: [", 2, "did not find expected node content"},
		{"a: 1\nn: x\n", 2, "cannot unmarshal !!str `x` into int"},
	} {
		err := yaml.Unmarshal([]byte(tc.doc), &v)
		if err == nil {
			t.Fatalf("%q: no error", tc.doc)
		}
		e := FromYAML("f.yml", err)
		if e.File != "f.yml" || e.Line != tc.line || e.Reason != tc.want {
			t.Errorf("%q: got %+v, want line %d reason %q", tc.doc, *e, tc.line, tc.want)
		}
	}
	if e := FromYAML("f.yml", errors.New("no line here")); e.Line != 0 || e.Reason != "no line here" {
		t.Errorf("unlocated: got %+v", *e)
	}
}

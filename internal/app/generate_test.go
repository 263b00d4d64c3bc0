package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/servescope/servescope/internal/present/web"
)

// TestGenerateProgress: Generate counts gen's steps and then the writing,
// up to all of them, and writes every file it counts.
func TestGenerateProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var calls [][2]int
	n, err := Generate(GenerateOptions{Out: dir, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 3 {
		t.Fatalf("progress %v: want a call per step and one for the writing", calls)
	}
	total := calls[0][1]
	for i, c := range calls {
		if c != [2]int{i + 1, total} {
			t.Errorf("call %d: %v, want [%d %d]", i, c, i+1, total)
		}
	}
	if len(calls) != total {
		t.Errorf("%d calls, want %d", len(calls), total)
	}
	written := 0
	err = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			written++
		}
		return err
	})
	if err != nil || written != n || n == 0 {
		t.Errorf("returned %d files, %d written (%v)", n, written, err)
	}
}

func TestReportFormat(t *testing.T) {
	t.Parallel()
	for out, want := range map[string]string{
		"":              web.FormatHTML,
		"r.html":        web.FormatHTML,
		"r.md":          web.FormatMarkdown,
		"dir/R.MD":      web.FormatMarkdown,
		"r.markdown":    web.FormatMarkdown,
		"r.md.html":     web.FormatHTML,
		"report":        web.FormatHTML,
		"notes.md/file": web.FormatHTML,
	} {
		if got := ReportFormat(out); got != want {
			t.Errorf("ReportFormat(%q) = %q, want %q", out, got, want)
		}
	}
}

package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/testutil/counts"
)

// TestGenerateProgress: Generate counts gen's steps and then the writing,
// up to all of them, and writes every file it counts.
func TestGenerateProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var rec counts.Recorder
	n, err := Generate(GenerateOptions{Out: dir, Progress: rec.Record})
	if err != nil {
		t.Fatal(err)
	}
	rec.CheckComplete(t, 3) // a step of gen's at least, and the writing
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

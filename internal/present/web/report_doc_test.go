package web

import (
	"bytes"
	"testing"
	"time"
)

// TestReportDocWritesBothFormats: one ReadReport written in each format is
// the report Report writes in that format, and a bad format is an error
// that writes nothing.
func TestReportDocWritesBothFormats(t *testing.T) {
	t.Parallel()
	h := newReportHandler(t)
	o := ReportOptions{Window: 2 * time.Hour, End: reportEnd, Source: "http://servescope:9464"}
	doc, err := h.ReadReport(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatHTML, FormatMarkdown} {
		var once, again bytes.Buffer
		if err := doc.Write(&once, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		o.Format = format
		if err := h.Report(t.Context(), &again, o); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if once.Len() == 0 || once.String() != again.String() {
			t.Errorf("%s: the document read once (%d bytes) differs from Report's (%d bytes)", format, once.Len(), again.Len())
		}
	}
	var buf bytes.Buffer
	if err := doc.Write(&buf, "pdf"); err == nil || buf.Len() != 0 {
		t.Errorf("format pdf: error %v, %d bytes written", err, buf.Len())
	}
	if _, err := h.ReadReport(t.Context(), ReportOptions{Window: 0}); err == nil {
		t.Error("window 0: no error")
	}
	if err := doc.Write(failingWriter{}, FormatMarkdown); err == nil {
		t.Error("write error: none")
	}
}

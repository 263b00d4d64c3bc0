package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/servescope/servescope/internal/model"
)

// The Markdown report: headings, tables and lists written here, every
// value from a label or a diagnosis escaped as text (mdText, mdLine,
// mdCode); charts are standalone SVG documents from the report_svg.html
// templates, embedded as data: images so the one file carries them.

func (h *Handler) writeMarkdown(w *bytes.Buffer, d reportData) error {
	fmt.Fprintf(w, "# %s\n\n", mdText(d.Title))
	fmt.Fprintf(w, "**Window:** %s – %s UTC (%s)", d.Start.UTC().Format("2006-01-02 15:04"), d.End.UTC().Format("2006-01-02 15:04"), mdText(d.Window))
	if d.Source != "" {
		fmt.Fprintf(w, " · **data from** %s", mdCode(d.Source))
	}
	w.WriteString("\n\n")
	if len(d.Partial) > 0 {
		fmt.Fprintf(w, "> **Partial report:** %d panel(s) could not be read; their figures are missing below.\n>\n", len(d.Partial))
		for _, f := range d.Partial {
			fmt.Fprintf(w, "> - %s\n", mdLine(f))
		}
		w.WriteString("\n")
	}
	if len(d.Headline) > 0 {
		t := &table{Rows: [][]string{nil}}
		for _, k := range d.Headline {
			t.Head = append(t.Head, k.Label)
			t.Rows[0] = append(t.Rows[0], k.Value)
		}
		mdTable(w, t)
	}
	var toc []string
	for _, s := range d.Sections {
		toc = append(toc, "["+mdText(s.Title)+"](#"+slug(s.Title)+")")
	}
	fmt.Fprintf(w, "Contents: %s\n\n", strings.Join(toc, " · "))
	for _, s := range d.Sections {
		fmt.Fprintf(w, "## %s\n\n", mdText(s.Title))
		if s.Lead != "" {
			fmt.Fprintf(w, "%s\n\n", mdLine(s.Lead))
		}
		for _, p := range s.Panels {
			if err := h.mdPanel(w, p.panelView); err != nil {
				return err
			}
		}
	}
	w.WriteString("---\n\nWritten by `servescope report` from the signal catalog's queries.\n")
	return nil
}

func (h *Handler) mdPanel(w *bytes.Buffer, v panelView) error {
	fmt.Fprintf(w, "### %s\n\n", mdText(v.Title))
	if v.Help != "" {
		fmt.Fprintf(w, "_%s_\n\n", mdText(v.Help))
	}
	switch v.State {
	case stateNoData, stateUnavailable, stateError:
		fmt.Fprintf(w, "_%s_\n\n", mdText(v.Message))
		return nil
	}
	var svg bytes.Buffer
	var err error
	switch {
	case v.Line != nil:
		err = h.tmpl.ExecuteTemplate(&svg, "svg-line", svgLineOf(v.Line))
	case v.Scatter != nil:
		err = h.tmpl.ExecuteTemplate(&svg, "svg-scatter", v.Scatter)
	case v.Bars != nil:
		err = h.tmpl.ExecuteTemplate(&svg, "svg-bars", v.Bars)
	}
	if err != nil {
		return fmt.Errorf("panel %s: render svg: %w", v.ID, err)
	}
	if svg.Len() > 0 {
		fmt.Fprintf(w, "![%s](data:image/svg+xml;base64,%s)\n\n", mdText(v.Title), base64.StdEncoding.EncodeToString(svg.Bytes()))
		if v.Line != nil && v.Line.More > 0 {
			fmt.Fprintf(w, "_+%d more series not drawn_\n\n", v.Line.More)
		}
	}
	if v.Table != nil {
		mdTable(w, v.Table)
	}
	if v.Findings != nil {
		mdFindings(w, v.Findings)
	}
	return nil
}

func mdTable(w *bytes.Buffer, t *table) {
	row := func(cells []string) {
		w.WriteString("|")
		for _, c := range cells {
			w.WriteString(" " + mdText(c) + " |")
		}
		w.WriteString("\n")
	}
	row(t.Head)
	w.WriteString("|" + strings.Repeat(" --- |", len(t.Head)) + "\n")
	for _, r := range t.Rows {
		row(r)
	}
	w.WriteString("\n")
}

func mdFindings(w *bytes.Buffer, fs []Finding) {
	for i, f := range fs {
		marker := strconv.Itoa(i+1) + ". "
		ind := strings.Repeat(" ", len(marker))
		fmt.Fprintf(w, "%s**%s** · %s · %s · confidence %s", marker, mdText(f.Severity), mdText(f.State), mdText(f.Subject), formatValue(f.Confidence, "ratio"))
		if f.GPUHours > 0 {
			fmt.Fprintf(w, " · %.1f GPU-h at stake", f.GPUHours)
		}
		if !f.Since.IsZero() {
			fmt.Fprintf(w, " · since %s", f.Since.UTC().Format("15:04"))
		}
		w.WriteString("\n\n")
		if f.Summary != "" {
			fmt.Fprintf(w, "%s%s\n\n", ind, mdLine(f.Summary))
		}
		if f.Action != "" {
			fmt.Fprintf(w, "%s**What to do:** %s\n\n", ind, mdText(f.Action))
		}
		// The evidence's values; their queries (the catalog's, often a
		// screenful each) are in the HTML report and servescope diagnose.
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "%s- %s = %s\n", ind, mdText(e.Signal), mdText(e.Value))
		}
		if len(f.Evidence) > 0 {
			w.WriteString("\n")
		}
	}
}

// mdText escapes s as Markdown text on one line: punctuation that would
// start emphasis, code, links, tables or HTML gets a backslash (and so
// does the colon of "://", against autolinks), & < > become entities, and
// line breaks become spaces.
func mdText(s string) string {
	// Line breaks become spaces; other control bytes are shown escaped.
	s = model.TerminalSafe(strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s))
	var b strings.Builder
	for i, r := range s {
		switch r {
		case ':':
			if strings.HasPrefix(s[i:], "://") {
				b.WriteByte('\\') // no autolink to a URL a label carries
			}
			b.WriteRune(r)
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdLine is mdText for text starting a line: a leading list, heading or
// quote marker is escaped too.
func mdLine(s string) string {
	t := mdText(s)
	if t == "" {
		return t
	}
	if strings.ContainsRune("+-=>", rune(t[0])) {
		return "\\" + t
	}
	digits := len(t) - len(strings.TrimLeft(t, "0123456789"))
	if digits > 0 && digits < len(t) && (t[digits] == '.' || t[digits] == ')') {
		return t[:digits] + "\\" + t[digits:]
	}
	return t
}

// mdCode writes s as a code span: fenced by one more backtick than its
// longest run of backticks, padded when it starts or ends with one.
func mdCode(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// slug is the heading anchor most renderers (GitHub, GitLab) derive.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// legendItem is one entry of a standalone chart's legend.
type legendItem struct {
	X, Y float64
	// SX2 and SY end the swatch; TX starts the name.
	SX2, SY, TX float64
	Class       string
	Name        string
	Full        string
	Dash        bool
}

// svgLine is a line chart with its legend drawn inside the SVG, for
// documents that cannot carry an HTML legend.
type svgLine struct {
	*lineChart
	Legend []legendItem
	Total  float64 // height with the legend
	MoreY  float64
}

const (
	legendRow  = 16.0
	legendCols = 2
	legendName = 40 // runes per legend entry
)

func svgLineOf(c *lineChart) svgLine {
	s := svgLine{lineChart: c, Total: c.H}
	colW := (c.W - padLeft) / legendCols
	top := c.H + 8
	for i, p := range c.Paths {
		name := p.Full
		if r := []rune(name); len(r) > legendName {
			name = string(r[:legendName-1]) + "…"
		}
		x, y := padLeft+colW*float64(i%legendCols), top+legendRow*float64(i/legendCols)
		s.Legend = append(s.Legend, legendItem{X: x, Y: y, SX2: x + 14, SY: y - 4, TX: x + 18,
			Class: p.Class, Name: name, Full: p.Full, Dash: p.Dash})
	}
	rows := (len(c.Paths) + legendCols - 1) / legendCols
	if c.More > 0 {
		s.MoreY = top + legendRow*float64(rows)
		rows++
	}
	s.Total = top + legendRow*float64(rows) + 4
	return s
}

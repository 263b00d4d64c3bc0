package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// TopView is one screen of `servescope top`: what was read, how to order
// it and how much room there is.
type TopView struct {
	// Server is the backend's URL, for the title.
	Server string
	// At is when Rows were read; zero before the first read.
	At       time.Time
	Interval time.Duration
	// Window is the diagnosis window.
	Window time.Duration
	Rows   []TopRow
	Sort   TopSort
	// Err is the last read's error; the rows of the read before stay.
	Err error
	// Width and Height bound the text in columns and lines; 0 is unbounded.
	Width, Height int
	// Keys adds the line of keys (the interactive view).
	Keys bool
	// Fleet is the fleet model's line (Top.FleetLine), under the title.
	Fleet string
}

// topKeys is the help line of the interactive view.
const topKeys = "keys: < > (or arrows) sort column, r reverse, q quit"

// RenderTop writes the view as plain text: a title, the table sorted as
// asked, and the keys. Rows that do not fit the height are counted on a
// last line; lines are cut at the width. It does not modify v.Rows.
func RenderTop(w io.Writer, v TopView) error {
	rows := slices.Clone(v.Rows)
	SortTopRows(rows, v.Sort)

	var head []string
	title := "servescope top  " + v.Server
	if v.At.IsZero() {
		title += "  waiting for the first read"
	} else {
		title += fmt.Sprintf("  %s  %d pods  every %s  diagnosis over %s  sorted by %s",
			v.At.UTC().Format("15:04:05 UTC"), len(rows), model.Duration(v.Interval), model.Duration(v.Window), v.Sort)
	}
	head = append(head, title)
	if v.Fleet != "" {
		head = append(head, v.Fleet)
	}
	if v.Err != nil {
		head = append(head, "error: "+strings.ReplaceAll(v.Err.Error(), "\n", " "))
	}
	head = append(head, "")
	var tail []string
	if v.Keys {
		tail = append(tail, "", topKeys)
	}

	shown, more := rows, 0
	if v.Height > 0 {
		room := max(v.Height-len(head)-len(tail)-1, 0) // -1: the header
		if len(rows) > room {
			shown, more = rows[:max(room-1, 0)], len(rows)-max(room-1, 0)
		}
	}
	lines := slices.Clone(head)
	if !v.At.IsZero() || len(rows) > 0 {
		lines = append(lines, table(shown)...)
	}
	if !v.At.IsZero() && len(rows) == 0 {
		lines = append(lines, "no engine pods")
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("... %d more pods", more))
	}
	lines = append(lines, tail...)
	if v.Height > 0 && len(lines) > v.Height {
		lines = lines[:v.Height]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(cut(l, v.Width))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// table lays out the header and rows in aligned columns two spaces apart.
func table(rows []TopRow) []string {
	cols := topColumns()
	cells := make([][]string, 0, len(rows)+1)
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	cells = append(cells, header)
	for _, r := range rows {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = c.cell(r)
		}
		cells = append(cells, line)
	}
	widths := make([]int, len(cols))
	for _, line := range cells {
		for i, s := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	out := make([]string, 0, len(cells))
	for _, line := range cells {
		var b strings.Builder
		for i, s := range line {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if cols[i].right {
				b.WriteString(pad + s)
			} else if i < len(line)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// cut shortens s to width runes; 0 keeps it whole.
func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width])
}

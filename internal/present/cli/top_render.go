package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	smodel "github.com/servescope/servescope/internal/model"
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
	// Filter keeps the rows whose namespace, pod or model contains it
	// (any case); Typing shows it being typed.
	Filter string
	Typing bool
	// Offset is the first row shown when they do not all fit (scrolling);
	// it is clamped to the rows there are.
	Offset int
	// Fleet is the fleet model's line (Top.FleetLine), under the title.
	Fleet string
	// Queues is the Kueue queue line (Top.QueueLine), under the fleet's.
	Queues string
}

// topKeys is the help line of the interactive view.
const topKeys = "keys: < > sort column, r reverse, j k ↑ ↓ PgUp PgDn Home End scroll, / filter, q quit"

// Visible is the rows the view shows, filtered and sorted; RenderTop shows
// them from Offset on.
func (v TopView) Visible() []TopRow {
	rows := make([]TopRow, 0, len(v.Rows))
	f := strings.ToLower(v.Filter)
	for _, r := range v.Rows {
		if f == "" || strings.Contains(strings.ToLower(r.Cluster), f) || strings.Contains(strings.ToLower(r.Namespace), f) || strings.Contains(strings.ToLower(r.Pod), f) ||
			strings.Contains(strings.ToLower(r.Model), f) {
			rows = append(rows, r)
		}
	}
	SortTopRows(rows, v.Sort)
	return rows
}

// head is the lines above the table.
func (v TopView) head(rows int) []string {
	title := "servescope top  " + v.Server
	if v.At.IsZero() {
		title += "  waiting for the first read"
	} else {
		title += fmt.Sprintf("  %s  %d pods  every %s  diagnosis over %s  sorted by %s",
			v.At.UTC().Format("15:04:05 UTC"), rows, model.Duration(v.Interval), model.Duration(v.Window), v.Sort)
	}
	head := []string{title}
	if v.Fleet != "" {
		head = append(head, v.Fleet)
	}
	if v.Queues != "" {
		head = append(head, v.Queues)
	}
	if v.Filter != "" || v.Typing {
		f := "filter: " + v.Filter
		if v.Typing {
			f += "_  (Enter keeps it, Esc clears it)"
		} else {
			f += fmt.Sprintf("  (%d of %d pods; / to change)", rows, len(v.Rows))
		}
		head = append(head, f)
	}
	if v.Err != nil {
		head = append(head, "error: "+strings.ReplaceAll(v.Err.Error(), "\n", " "))
	}
	return append(head, "")
}

// Room is how many rows fit at once, and the largest useful Offset;
// room is 0 when the height is unbounded.
func (v TopView) Room() (room, maxOffset int) {
	n := len(v.Visible())
	if v.Height <= 0 {
		return 0, 0
	}
	tail := 0
	if v.Keys {
		tail = 2
	}
	room = max(v.Height-len(v.head(n))-tail-1, 0) // -1: the header
	if n > room {
		room = max(room-1, 0) // a line says which rows show
	}
	return room, max(n-room, 0)
}

// RenderTop writes the view as plain text: a title, the table sorted as
// asked, and the keys. Rows that do not fit the height are counted on a
// last line; lines are cut at the width. It does not modify v.Rows.
func RenderTop(w io.Writer, v TopView) error {
	rows := v.Visible()
	head := v.head(len(rows))
	var tail []string
	if v.Keys {
		tail = append(tail, "", topKeys)
	}

	shown, footer := rows, ""
	if room, maxOff := v.Room(); v.Height > 0 && len(rows) > room {
		off := min(max(v.Offset, 0), maxOff)
		shown = rows[off : off+room]
		footer = fmt.Sprintf("pods %d–%d of %d", off+1, off+room, len(rows))
		if v.Keys {
			footer += " (scroll: j k, PgUp PgDn, Home End)"
		} else {
			footer = fmt.Sprintf("... %d more pods", len(rows)-room-off)
		}
	}
	lines := slices.Clone(head)
	if !v.At.IsZero() || len(rows) > 0 {
		lines = append(lines, table(shown, v.Sort)...)
	}
	if !v.At.IsZero() && len(rows) == 0 {
		if v.Filter != "" {
			lines = append(lines, "no engine pods match the filter")
		} else {
			lines = append(lines, "no engine pods")
		}
	}
	if footer != "" {
		lines = append(lines, footer)
	}
	lines = append(lines, tail...)
	if v.Height > 0 && len(lines) > v.Height {
		lines = lines[:v.Height]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(cut(smodel.TerminalSafe(l), v.Width))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// table lays out the header and rows in aligned columns two spaces apart;
// the sorted column's header is marked ▼ (largest or last first) or ▲.
func table(rows []TopRow, sort TopSort) []string {
	cols := topColumns()
	cells := make([][]string, 0, len(rows)+1)
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
		if TopColumn(i) == sort.Column {
			if c.descending != sort.Reverse {
				header[i] += "▼"
			} else {
				header[i] += "▲"
			}
		}
	}
	cells = append(cells, header)
	// Pods of several clusters are named cluster:namespace/pod.
	many := slices.ContainsFunc(rows, func(r TopRow) bool { return r.Cluster != rows[0].Cluster })
	for _, r := range rows {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = smodel.TerminalSafe(c.cell(r))
		}
		if many {
			line[ColPod] = smodel.TerminalSafe(r.Cluster) + ":" + line[ColPod]
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

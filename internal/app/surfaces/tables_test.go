package surfaces

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// getPage GETs a dashboard page and returns its HTML.
func getPage(t *testing.T, u string) string {
	t.Helper()
	code, body := proc.Get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, code, body)
	}
	return body
}

var (
	htmlRow  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	htmlCell = regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
)

// htmlTable returns the rows (head first) of the table of the panel with
// id on a dashboard page; nil when the panel has no table.
func htmlTable(t *testing.T, page, id string) [][]string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no panel %s on the page", id)
	}
	sec := page[i:]
	if j := strings.Index(sec, "</section>"); j >= 0 {
		sec = sec[:j]
	}
	a, b := strings.Index(sec, "<table>"), strings.Index(sec, "</table>")
	if a < 0 || b < a {
		return nil
	}
	var rows [][]string
	for _, r := range htmlRow.FindAllStringSubmatch(sec[a:b], -1) {
		var row []string
		for _, c := range htmlCell.FindAllStringSubmatch(r[1], -1) {
			row = append(row, html.UnescapeString(strings.TrimSpace(c[1])))
		}
		rows = append(rows, row)
	}
	return rows
}

var mdEscape = regexp.MustCompile(`\\(.)`)

// mdTable returns the rows (head first) of the table under the Markdown
// heading "### title", unescaped; nil when there is none.
func mdTable(t *testing.T, md, title string) [][]string {
	t.Helper()
	_, after, ok := strings.Cut(md, "\n### "+title+"\n")
	if !ok {
		t.Fatalf("no section %q in the report", title)
	}
	if j := strings.Index(after, "\n#"); j >= 0 {
		after = after[:j]
	}
	var rows [][]string
	for _, l := range strings.Split(after, "\n") {
		if !strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "| ---") {
			continue
		}
		// Split on unescaped pipes.
		var row []string
		cell, esc := strings.Builder{}, false
		for _, r := range strings.TrimSuffix(strings.TrimPrefix(l, "| "), " |") {
			switch {
			case esc:
				cell.WriteRune('\\')
				cell.WriteRune(r)
				esc = false
			case r == '\\':
				esc = true
			case r == '|':
				row = append(row, cell.String())
				cell.Reset()
			default:
				cell.WriteRune(r)
			}
		}
		row = append(row, cell.String())
		for i, c := range row {
			row[i] = html.UnescapeString(mdEscape.ReplaceAllString(strings.TrimSpace(c), "$1"))
		}
		rows = append(rows, row)
	}
	return rows
}

// byHead turns a table's rows into maps from its head to the cells.
func byHead(rows [][]string) []map[string]string {
	if len(rows) == 0 {
		return nil
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			if i < len(r) {
				m[h] = r[i]
			}
		}
		out = append(out, m)
	}
	return out
}

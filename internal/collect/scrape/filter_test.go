package scrape

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/servescope/servescope/internal/collect/parse"
	"github.com/servescope/servescope/internal/schema"
)

// testKeep keeps the families a, h (a histogram) and c_total (a counter).
func testKeep(t testing.TB) *relabel.Config {
	t.Helper()
	eq := func(v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, "__name__", v) }
	rc, err := keepRule([]*labels.Matcher{eq("a"), eq("h_bucket"), eq("c_total")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func filterString(t testing.TB, keep *relabel.Config, in string, limit int64) (string, filterStats, error) {
	t.Helper()
	f := newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }))
	var out bytes.Buffer
	st, err := f.copy(&out, strings.NewReader(in), limit)
	return out.String(), st, err
}

func TestFilterLines(t *testing.T) {
	keep := testKeep(t)
	long := strings.Repeat("x", 3*filterBufferSize)
	for _, tc := range []struct {
		name, in, want string
		dropped        int
	}{
		{
			name:    "unread sample lines dropped, comments and blank lines kept",
			in:      "# HELP b B.\n# TYPE b gauge\nb 1\nb{x=\"1\"} 2\n\na 1\n# EOF\n",
			want:    "# HELP b B.\n# TYPE b gauge\n\na 1\n# EOF\n",
			dropped: 2,
		},
		{
			name: "a histogram and a counter kept whole, _created kept for the keep to drop",
			in:   "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\nh_created 1.7e9\nc_total 4\nc_created 1.7e9\nhx_sum 1\n",
			want: "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\nh_created 1.7e9\nc_total 4\nc_created 1.7e9\n", dropped: 1,
		},
		{
			name: "timestamps, escapes, empty labels, special values",
			in:   "b 1 1700000000000\nb{x=\"a\\\"b\\\\c\\n\"} NaN\nb{} +Inf\nb{x=\"1\",} -1e-3 -5\nb\t2\n",
			want: "", dropped: 5,
		},
		{
			name: "lines it cannot classify are kept",
			in:   "{\"b.c\"} 1\n b 1\nb\nb{x=\"1\" 2\nb 1 2 3\nb 0x1p3\nb 1_000\nb 1 1.5\nb{x=\"\xff\"} 1\nb 1\r\nb 1 # {t=\"x\"} 1\nb{x=1} 1\nb\"q 1\nb 1",
			want: "{\"b.c\"} 1\n b 1\nb\nb{x=\"1\" 2\nb 1 2 3\nb 0x1p3\nb 1_000\nb 1 1.5\nb{x=\"\xff\"} 1\nb 1\r\nb 1 # {t=\"x\"} 1\nb{x=1} 1\nb\"q 1\nb 1",
		},
		{
			name: "lines longer than the buffer are kept whole (their end cannot be checked), the next lines read right",
			in:   "a{v=\"" + long + "\"} 1\nb{v=\"" + long + "\"} 1\n" + long + "\na 2\nb 2\n",
			want: "a{v=\"" + long + "\"} 1\nb{v=\"" + long + "\"} 1\n" + long + "\na 2\n", dropped: 1,
		},
		{name: "no final newline", in: "a 1\nb 2", want: "a 1\nb 2"},
		{name: "empty", in: "", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := filterString(t, keep, tc.in, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", Truncate(got, 300), Truncate(tc.want, 300))
			}
			if st.Dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", st.Dropped, tc.dropped)
			}
			if st.In != int64(len(tc.in)) || st.Out != int64(len(got)) {
				t.Errorf("in %d out %d, want %d and %d", st.In, st.Out, len(tc.in), len(got))
			}
		})
	}
}

// TestFilterLongDroppedLine: a well-formed line of an unread family longer
// than the buffer is kept (its end cannot be checked) and does not break
// the lines after it.
func TestFilterLongDroppedLine(t *testing.T) {
	in := "b{v=\"" + strings.Repeat("y", filterBufferSize+10) + "\"} 1\na 1\nb 2\n"
	got, st, err := filterString(t, testKeep(t), in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(in, "b 2\n"); got != want || st.Dropped != 1 {
		t.Errorf("dropped %d, got %q", st.Dropped, Truncate(got, 200))
	}
}

func TestFilterLimit(t *testing.T) {
	in := strings.Repeat("b 1\n", 100) + "a 1\n"
	for _, tc := range []struct {
		limit int64
		over  bool
	}{{0, false}, {int64(len(in)) + 1, false}, {int64(len(in)), true}, {10, true}} {
		_, st, err := filterString(t, testKeep(t), in, tc.limit)
		if (err == errOverLimit) != tc.over {
			t.Errorf("limit %d: err %v, want over %v", tc.limit, err, tc.over)
		}
		if tc.over && st.In > tc.limit+filterBufferSize {
			t.Errorf("limit %d: read %d", tc.limit, st.In)
		}
	}
}

// keptSamples parses body and returns what the keep rule lets through,
// one string per sample.
func keptSamples(t *testing.T, body []byte, contentType string, nhcb bool, keep *relabel.Config) ([]string, error) {
	t.Helper()
	var out []string
	err := parse.EachWith(body, contentType, parse.Options{ConvertNHCB: nhcb}, func(s parse.Sample) error {
		if !relabel.ProcessBuilder(labels.NewBuilder(s.Labels), keep) {
			return nil
		}
		v := fmt.Sprint(s.V)
		switch {
		case s.H != nil:
			v = s.H.String()
		case s.FH != nil:
			v = s.FH.String()
		}
		out = append(out, fmt.Sprintf("%s %s %d", s.Labels, v, s.T))
		return nil
	})
	return out, err
}

func comments(body []byte) []string {
	var out []string
	for l := range strings.Lines(string(body)) {
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestFilterSamples: every real exposition under ../shared/samples gives,
// through the filter, exactly the series the keep rule alone keeps (as
// classic series and as NHCB), and every comment line.
func TestFilterSamples(t *testing.T) {
	files, _ := filepath.Glob("../../../../shared/samples/*.prom")
	if len(files) == 0 {
		t.Skip("no ../shared/samples/*.prom beside the worktree")
	}
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := keepRule(cat.Reads(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	total, dropped := 0, 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f := newLineFilter(newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }))
			var out bytes.Buffer
			st, err := f.copy(&out, bytes.NewReader(raw), 0)
			if err != nil {
				t.Fatal(err)
			}
			total += strings.Count(string(raw), "\n")
			dropped += st.Dropped
			for _, nhcb := range []bool{false, true} {
				want, werr := keptSamples(t, raw, parse.TextContentType, nhcb, keep)
				got, gerr := keptSamples(t, out.Bytes(), parse.TextContentType, nhcb, keep)
				if (werr == nil) != (gerr == nil) {
					t.Fatalf("nhcb %v: error %v through the filter, %v without", nhcb, gerr, werr)
				}
				if !slices.Equal(got, want) {
					t.Errorf("nhcb %v: through the filter\n%s\nwithout\n%s", nhcb, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			if !slices.Equal(comments(out.Bytes()), comments(raw)) {
				t.Error("comment lines differ")
			}
		})
	}
	t.Logf("%d of %d lines dropped", dropped, total)
}

// FuzzFilter: the output is a subsequence of the input's lines, the lines
// of kept families, comments and lines that are not samples all stay in
// order, and the keep rule keeps the same samples either way.
func FuzzFilter(f *testing.F) {
	f.Add("# TYPE a gauge\na 1\nb 2\n# EOF\n")
	f.Add("h_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\nb{x=\"y\"} 3 17\n")
	f.Add("b{x=\"1\" 2\n{\"b\"} 1\n\n b 1\nb")
	keep := testKeep(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, st, err := filterString(t, keep, in, 0)
		if err != nil {
			t.Fatal(err)
		}
		inLines := slices.Collect(strings.Lines(in))
		outLines := slices.Collect(strings.Lines(got))
		if st.Dropped != len(inLines)-len(outLines) {
			t.Fatalf("dropped %d of %d lines, output has %d", st.Dropped, len(inLines), len(outLines))
		}
		j := 0
		for _, l := range inLines {
			if j < len(outLines) && outLines[j] == l {
				j++
				continue
			}
			// A dropped line: a sample line of a family the keep drops.
			name, _, _ := strings.Cut(l, " ")
			name, _, _ = strings.Cut(name, "{")
			if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" || keepsName(keep.Regex, name) {
				t.Fatalf("line %q dropped", l)
			}
		}
		if j != len(outLines) {
			t.Fatalf("output lines not a subsequence of the input's")
		}
		for _, ct := range []string{parse.TextContentType, parse.OpenMetricsContentType} {
			want, werr := keptSamples(t, []byte(in), ct, false, keep)
			gotS, gerr := keptSamples(t, []byte(got), ct, false, keep)
			if werr == nil && (gerr != nil || !slices.Equal(gotS, want)) {
				t.Fatalf("%s: kept %q (err %v) through the filter, %q without", ct, gotS, gerr, want)
			}
			// A body the text parser fails still fails: the filter drops
			// no malformed line.
			if ct == parse.TextContentType && werr != nil && gerr == nil {
				t.Fatalf("%s: %v without the filter, no error through it", ct, werr)
			}
		}
	})
}

// TestNameDecisionsShared: filters sharing a cache decide each name once
// between them, concurrently, and give keep's answer; a cache full of
// churning names starts again instead of growing.
func TestNameDecisionsShared(t *testing.T) {
	var calls atomic.Int64
	d := newNameDecisions(func(n string) bool { calls.Add(1); return strings.HasPrefix(n, "vllm:") })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if !d.decide([]byte("vllm:num_requests_running")) || d.decide([]byte("go_goroutines")) {
					t.Error("wrong decision")
				}
			}
		})
	}
	wg.Wait()
	// Racing first lookups may each ask keep; later ones never do.
	if n := calls.Load(); n < 2 || n > 16 {
		t.Errorf("keep asked %d times for 2 names by 8 filters", n)
	}
	for i := range maxCachedNames + 10 {
		d.decide(fmt.Appendf(nil, "churn_%d", i))
	}
	if n := len(d.m); n > maxCachedNames {
		t.Errorf("cache holds %d names, over %d", n, maxCachedNames)
	}
}

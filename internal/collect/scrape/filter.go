package scrape

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/prometheus/model/relabel"
)

// The pre-filter drops, before Prometheus's parser sees them, the sample
// lines of a text exposition whose metric name the keep rule (keepRule)
// would drop anyway: parsing builds labels for every sample line, and two
// thirds of a vLLM pod's lines are in families nothing reads. The keep rule
// stays the authority: the pre-filter only drops a line when every series
// Prometheus could make of it is dropped by the keep, so what is stored is
// the same with or without it.
//
// A line is kept unless it is a sample line with a plain metric name the
// keep does not select:
//   - every comment (# HELP, # TYPE, # UNIT, # EOF and any other) and blank
//     line is kept: target metadata and exporter recognition read them;
//   - a line it cannot classify is kept: a line starting with `{` (a quoted
//     UTF-8 name), with white space, a name with a quote, a line with no
//     space or `{` after its name, a name longer than the read buffer;
//   - a name is kept when the keep selects it or a member of its family:
//     its base without a _bucket, _sum, _count, _created, _total, _gsum,
//     _gcount or _info suffix, or that base with any of those suffixes
//     (the NHCB parser folds _bucket, _sum and _count lines into a series
//     named as the base, and the OpenMetrics parser reads a _created line
//     as the start time of its family's samples);
//   - but the _bucket lines of a histogram whose buckets nothing reads
//     (Options.SumCountOnly) are dropped: this is the one place where the
//     pre-filter decides what is stored, a histogram then keeping only the
//     +Inf bucket its count makes (targets the proxy does not filter store
//     its buckets; what is read of it, sum and count, is the same).
//
// A line of an unread family is dropped only when it is a well-formed
// sample line (wellFormed): a malformed one is kept, and fails the scrape
// in Prometheus's parser as it did without the pre-filter. A line too long
// for the buffer is kept whole.

// familySuffixes are the sample-name suffixes a family's lines carry.
var familySuffixes = []string{"_bucket", "_sum", "_count", "_created", "_total", "_gsum", "_gcount", "_info"}

// keepsName says whether the keep regex re selects name or a member of its
// family (see above).
func keepsName(re relabel.Regexp, name string) bool {
	if re.MatchString(name) {
		return true
	}
	for _, suf := range familySuffixes {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		if re.MatchString(base) {
			return true
		}
		for _, s := range familySuffixes {
			if s != suf && re.MatchString(base+s) {
				return true
			}
		}
	}
	return false
}

// unreadBuckets says whether name is a _bucket line of one of the
// histograms sumCountOnly names, of which only the sum and count are read,
// and the keep regex re does not select it by its own name (keep_metrics).
// Its family is kept, so keepsName keeps it, but it is dropped: the NHCB
// parser then stores the histogram with the one +Inf bucket its count
// makes, the keep step drops the classic _bucket series anyway.
func unreadBuckets(re relabel.Regexp, name string, sumCountOnly []string) bool {
	base, ok := strings.CutSuffix(name, "_bucket")
	return ok && slices.Contains(sumCountOnly, base) && !re.MatchString(name)
}

// isTextFormat says whether a Content-Type is one the pre-filter reads:
// Prometheus text (0.0.4, 1.0.0) or OpenMetrics. Anything else (protobuf,
// a missing or unparsable type) passes untouched.
func isTextFormat(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "text/plain" || mt == "application/openmetrics-text"
}

// filterBufferSize is the line buffer: a line longer than it is streamed
// through (or skipped) in pieces, never held whole.
const filterBufferSize = 64 << 10

// lineReaders lend the line buffer to the copies under way: a target's
// filter holds none between scrapes.
var lineReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, filterBufferSize) }}

// maxCachedNames bounds a cache of decisions: names that churn (a name
// per request path, say) start a new cache when it is full.
const maxCachedNames = 1 << 16

// nameDecisions caches keep's decision per metric name for every target
// filtered by one keep (its names repeat from scrape to scrape and, at
// 10,000 GPUs, from target to target: a cache per target held 50 MB). It
// is safe for concurrent use.
type nameDecisions struct {
	keep func(name string) bool
	mu   sync.RWMutex
	m    map[string]bool
}

func newNameDecisions(keep func(string) bool) *nameDecisions {
	return &nameDecisions{keep: keep, m: map[string]bool{}}
}

// decide says whether keep selects name.
func (d *nameDecisions) decide(name []byte) bool {
	d.mu.RLock()
	k, ok := d.m[string(name)]
	d.mu.RUnlock()
	if ok {
		return k
	}
	k = d.keep(string(name))
	d.mu.Lock()
	if len(d.m) >= maxCachedNames {
		clear(d.m)
	}
	d.m[string(name)] = k
	d.mu.Unlock()
	return k
}

// lineFilter copies expositions, dropping the sample lines of names its
// keep does not select (decided once per name in names, which filters
// may share); it is not safe for concurrent use.
type lineFilter struct {
	names *nameDecisions
	br    *bufio.Reader // lent by lineReaders during a copy
	// lines, when not nil, receives the 1-based input line of each line
	// written (the error locator maps a parse error back to the target's
	// line).
	lines *[]int
	// nhcb and classic are the job's convert_classic_histograms_to_nhcb
	// and always_scrape_classic_histograms: they say how many samples the
	// scrape loop would have counted for a dropped line of a histogram.
	nhcb, classic bool
	// histogram is the family the last # TYPE line declared a histogram.
	histogram []byte
	// declared is filterStats.Histograms of the copy under way.
	declared bool
	// last is the last sample name decided, and lastKeep its decision.
	last              []byte
	lastKeep, lastSet bool
}

// Byte classes of legacy names, as bits of nameBytes: a metric name's
// first byte, its other bytes, a label name's first byte and its others.
const (
	metricStart = 1 << iota
	metricInner
	labelStart
	labelInner
)

// nameBytes classifies every byte (a table: two thirds of a body's lines
// are scanned byte by byte).
var nameBytes = func() (t [256]uint8) {
	for c := range 256 {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if letter || c == ':' {
			t[c] |= metricStart | metricInner
		}
		if digit {
			t[c] |= metricInner | labelInner
		}
		if letter {
			t[c] |= labelStart | labelInner
		}
	}
	return t
}()

func newLineFilter(names *nameDecisions) *lineFilter {
	return &lineFilter{names: names}
}

// errOverLimit is returned when the input reaches the byte limit.
var errOverLimit = errors.New("body size limit reached")

// filterStats are one copy's counts.
type filterStats struct {
	// In and Out are the bytes read and written.
	In, Out int64
	// Dropped are the sample lines dropped, and Samples the samples the
	// scrape loop would have counted for them (scrape_samples_scraped):
	// with NHCB, one per classic histogram, for its _count line.
	Dropped, Samples int
	// Histograms says the body may declare a histogram: a comment line
	// names one (or is too long to tell). Without, Prometheus's NHCB
	// converter has nothing to convert in it (it converts only the
	// families a # TYPE line declares histograms).
	Histograms bool
}

// copy filters r into w. With limit > 0 it stops with errOverLimit once
// limit bytes of r are read (Prometheus's body_size_limit fails a body of
// limit bytes or more).
func (f *lineFilter) copy(w io.Writer, r io.Reader, limit int64) (st filterStats, err error) {
	f.br = lineReaders.Get().(*bufio.Reader)
	f.br.Reset(r)
	f.declared = false
	defer func() {
		f.br.Reset(nil)
		lineReaders.Put(f.br)
		f.br = nil
		st.Histograms = f.declared
	}()
	write := func(b []byte) error {
		n, err := w.Write(b)
		st.Out += int64(n)
		return err
	}
	line := 0
	for {
		chunk, err := f.br.ReadSlice('\n')
		if len(chunk) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, err
		}
		line++
		st.In += int64(len(chunk))
		keep := f.keepLine(chunk)
		if chunk[0] == '#' && errors.Is(err, bufio.ErrBufferFull) {
			f.declared = true // a comment longer than the buffer: unread
		}
		if keep {
			if f.lines != nil {
				*f.lines = append(*f.lines, line)
			}
			if werr := write(chunk); werr != nil {
				return st, werr
			}
		} else {
			st.Dropped++
			st.Samples += f.samples(chunk)
		}
		// The rest of a line longer than the buffer.
		for errors.Is(err, bufio.ErrBufferFull) {
			if limit > 0 && st.In >= limit {
				return st, errOverLimit
			}
			chunk, err = f.br.ReadSlice('\n')
			st.In += int64(len(chunk))
			if keep {
				if werr := write(chunk); werr != nil {
					return st, werr
				}
			}
		}
		if limit > 0 && st.In >= limit {
			return st, errOverLimit
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			return st, err
		}
	}
}

// keepLine decides on a line from its start (the whole line, or as much of
// it as the buffer holds).
func (f *lineFilter) keepLine(start []byte) bool {
	if len(start) == 0 {
		return true
	}
	switch start[0] {
	case '#':
		if !f.declared && bytes.Contains(start, []byte("histogram")) {
			f.declared = true
		}
		if t, ok := bytes.CutPrefix(start, []byte("# TYPE ")); ok {
			name, typ, _ := bytes.Cut(t, []byte(" "))
			f.histogram = f.histogram[:0]
			if string(bytes.TrimSpace(typ)) == "histogram" {
				f.histogram = append(f.histogram, name...)
			}
		}
		return true
	case '\n', '\r', '{', ' ', '\t':
		return true
	}
	// The name: legacy metric name characters up to `{`, a space or a tab.
	// Any other character (a quote, a dot, UTF-8), or no end within the
	// buffer: a line the filter cannot classify, kept.
	end := 0
	if nameBytes[start[0]]&metricStart != 0 {
		end = 1
		for end < len(start) && nameBytes[start[end]]&metricInner != 0 {
			end++
		}
	}
	if end == len(start) || start[end] != '{' && start[end] != ' ' && start[end] != '\t' {
		return true
	}
	name := start[:end]
	// The lines of a family come together: the last name's decision
	// first, then the map.
	var k bool
	if f.lastSet && bytes.Equal(name, f.last) {
		k = f.lastKeep
	} else {
		k = f.names.decide(name)
		f.last, f.lastKeep, f.lastSet = append(f.last[:0], name...), k, true
	}
	// A line is dropped only when it is a well-formed sample line: the
	// parser fails a scrape on a malformed one, wherever it is.
	return k || !wellFormed(start, end)
}

// wellFormed says whether line (with its newline, if any) is a sample line
// both Prometheus text and OpenMetrics parse: a legacy metric name (ending
// at nameEnd, which the caller has checked), optional labels with quoted,
// escaped, valid UTF-8 values, a float value and an optional timestamp.
// Anything else (an exemplar, a carriage return, a label value over
// several reads) counts as malformed, so the line is kept and the parser
// decides.
func wellFormed(line []byte, nameEnd int) bool {
	if l, ok := bytes.CutSuffix(line, []byte("\n")); ok {
		line = l
	} else {
		// No newline: the last line of a body, or a line longer than the
		// buffer.
		return false
	}
	// Label values must be valid UTF-8; anywhere else a non-ASCII byte
	// fails the checks below anyway.
	if !utf8.Valid(line[nameEnd:]) {
		return false
	}
	i := nameEnd
	if i < len(line) && line[i] == '{' {
		n, ok := labelsEnd(line[i+1:])
		if !ok {
			return false
		}
		i += 1 + n
	}
	rest := line[i:]
	// The value, after at least one blank.
	trimmed := bytes.TrimLeft(rest, " \t")
	if len(trimmed) == len(rest) || len(trimmed) == 0 {
		return false
	}
	v := trimmed
	if j := bytes.IndexAny(v, " \t"); j >= 0 {
		v, trimmed = v[:j], bytes.TrimLeft(v[j:], " \t")
	} else {
		trimmed = nil
	}
	if !isFloat(v) {
		return false
	}
	if len(trimmed) == 0 {
		return true
	}
	// A timestamp (integer milliseconds, which both formats read) ends
	// the line.
	ts, _ := bytes.CutPrefix(trimmed, []byte("-"))
	if len(ts) == 0 {
		return false
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// labelsEnd returns the length of `name="value",...}` up to and with the
// closing brace, and whether it is well formed.
func labelsEnd(b []byte) (int, bool) {
	i := 0
	for {
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		start := i
		if i < len(b) && nameBytes[b[i]]&labelStart != 0 {
			i++
			for i < len(b) && nameBytes[b[i]]&labelInner != 0 {
				i++
			}
		}
		if i == start || i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' {
			return 0, false
		}
		i += 2
		// The value up to its closing quote, escapes checked.
		for {
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return 0, false
			}
			e := bytes.IndexByte(b[i:i+j], '\\')
			if e < 0 {
				i += j
				break
			}
			i += e
			if i+1 >= len(b) || (b[i+1] != '\\' && b[i+1] != '"' && b[i+1] != 'n') {
				return 0, false
			}
			i += 2
		}
		i++ // the closing quote
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		return 0, false
	}
}

// isFloat says whether b is a value Prometheus's parsers read (they refuse
// hexadecimal exponents and underscores).
func isFloat(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	// Most values: digits with at most one point (short enough not to
	// overflow).
	digits, points := 0, 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		case i == 0 && (c == '-' || c == '+'):
		default:
			digits = -len(b)
		}
	}
	if digits > 0 && points <= 1 && len(b) <= 300 {
		return true
	}
	if bytes.ContainsAny(b, "pP_") {
		return false
	}
	// strconv keeps no reference to its argument (its errors copy it).
	_, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	return err == nil
}

// samples is what the scrape loop counts for a dropped sample line: one,
// but with NHCB a classic histogram's lines are one sample (counted at its
// _count line), plus each line when the classic series are kept too.
func (f *lineFilter) samples(line []byte) int {
	if !f.nhcb || len(f.histogram) == 0 || !bytes.HasPrefix(line, f.histogram) {
		return 1
	}
	rest := line[len(f.histogram):]
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if r, ok := bytes.CutPrefix(rest, []byte(suf)); ok && len(r) > 0 && (r[0] == '{' || r[0] == ' ' || r[0] == '\t') {
			n := 0
			if f.classic {
				n = 1
			}
			if suf == "_count" {
				n++
			}
			return n
		}
	}
	return 1
}

// Package parse reads metrics exposition (Prometheus text 0.0.4 and
// OpenMetrics 1.0) with Prometheus's own parsers, appends it to a
// store.Appender, and locates parse errors by line. Live scraping goes
// through the scrape package; this package serves backfill, file import and
// error reporting, and is fuzzed.
//
// It imports only the store contracts and Prometheus's light model packages.
package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/servescope/servescope/internal/store"
)

// TextContentType is the Prometheus text format 0.0.4, the fallback when a
// body has no content type.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// OpenMetricsContentType is OpenMetrics 1.0.
const OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

// parserOptions read bodies with an unknown Content-Type as text 0.0.4.
var parserOptions = textparse.ParserOptions{FallbackContentType: "text/plain"}

// Error is a parse error located in its body.
type Error struct {
	// Line is the 1-based line the parser failed on.
	Line int
	// Err is the parser's message.
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Sample is one parsed float sample.
type Sample struct {
	Labels labels.Labels
	// T is the sample's own timestamp in milliseconds, or 0 when the
	// exposition gave none.
	T     int64
	V     float64
	HasTS bool
	// H and FH hold a histogram sample (one of them; V is then unused):
	// only with Options.ConvertNHCB, a classic histogram converted to a
	// native histogram with custom buckets, named as its family.
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
	// Family is the metric family the series belongs to, as named by the
	// # TYPE line before it (x for x_bucket, x_sum, x_count of a
	// histogram), and Type that line's type; both are empty when the
	// series has no # TYPE line of its own.
	Family string
	Type   model.MetricType
}

// familySuffixes are the suffixes a series name may add to its family's.
var familySuffixes = []string{"_bucket", "_sum", "_count", "_total", "_created", "_gcount", "_gsum", "_info"}

// memberOf reports whether a series named name belongs to family.
func memberOf(name, family string) bool {
	if name == family {
		return true
	}
	rest, ok := strings.CutPrefix(name, family)
	return ok && slices.Contains(familySuffixes, rest)
}

// Options say how exposition is read.
type Options struct {
	// ConvertNHCB reads each classic histogram (x_bucket, x_sum, x_count)
	// as one native histogram with custom buckets named x, as a scrape
	// with convert_classic_histograms_to_nhcb stores it.
	ConvertNHCB bool
}

// Each parses body and calls fn for every float sample of a classic series
// (native histograms are skipped), with the family and type its # TYPE line
// declared. It returns the first error, located by
// line when it comes from the parser.
func Each(body []byte, contentType string, fn func(Sample) error) error {
	return EachWith(body, contentType, Options{}, fn)
}

// EachWith is Each read with opts: with ConvertNHCB, fn gets each classic
// histogram as one histogram sample instead of its series.
func EachWith(body []byte, contentType string, opts Options, fn func(Sample) error) error {
	if contentType == "" {
		contentType = TextContentType
	}
	po := parserOptions
	po.ConvertClassicHistogramsToNHCB = opts.ConvertNHCB
	p, err := textparse.New(body, contentType, labels.NewSymbolTable(), po)
	if p == nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	var (
		lset   labels.Labels
		family string
		typ    model.MetricType
	)
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &Error{Line: locate(body, contentType), Err: err}
		}
		if entry == textparse.EntryType {
			name, t := p.Type()
			family, typ = string(name), t
			continue
		}
		var s Sample
		var ts *int64
		switch {
		case entry == textparse.EntrySeries:
			_, ts, s.V = p.Series()
		case entry == textparse.EntryHistogram && opts.ConvertNHCB:
			_, ts, s.H, s.FH = p.Histogram()
		default:
			continue
		}
		p.Labels(&lset)
		s.Labels = lset
		if ts != nil {
			s.T, s.HasTS = *ts, true
		}
		switch name := lset.Get(model.MetricNameLabel); {
		case s.H != nil || s.FH != nil:
			s.Family, s.Type = name, model.MetricTypeHistogram
		case family != "" && memberOf(name, family):
			s.Family, s.Type = family, typ
		}
		if err := fn(s); err != nil {
			return err
		}
	}
}

// Ingest appends every sample of body to app with the target labels added
// the way a scrape does: with honorLabels false an exposed label that
// clashes with a target label is kept as exported_<name>; with honorLabels
// true the exposed label wins and target labels fill only what is missing.
// Samples without a timestamp get defaultTS (milliseconds). It returns the
// number of samples appended; the caller commits or rolls back.
func Ingest(app store.Appender, body []byte, contentType string, target labels.Labels, defaultTS int64, honorLabels bool) (int, error) {
	return IngestWith(app, body, contentType, Options{}, target, defaultTS, honorLabels)
}

// IngestWith is Ingest read with opts: with ConvertNHCB each classic
// histogram is appended as one native histogram with custom buckets, as a
// scrape with convert_classic_histograms_to_nhcb stores it.
func IngestWith(app store.Appender, body []byte, contentType string, opts Options, target labels.Labels, defaultTS int64, honorLabels bool) (int, error) {
	n := 0
	b := labels.NewBuilder(labels.EmptyLabels())
	err := EachWith(body, contentType, opts, func(s Sample) error {
		t := defaultTS
		if s.HasTS {
			t = s.T
		}
		ls := WithTarget(b, s.Labels, target, honorLabels)
		var err error
		if s.H != nil || s.FH != nil {
			err = app.AppendHistogram(ls, t, s.H, s.FH)
		} else {
			err = app.Append(ls, t, s.V)
		}
		if err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// WithTarget returns exposed labels ls with the target labels added the way
// a scrape adds them (see Ingest), built in b.
func WithTarget(b *labels.Builder, ls, target labels.Labels, honorLabels bool) labels.Labels {
	b.Reset(ls)
	target.Range(func(l labels.Label) {
		v := ls.Get(l.Name)
		if honorLabels {
			if v == "" {
				b.Set(l.Name, l.Value)
			}
			return
		}
		if v != "" {
			name := l.Name
			for {
				name = model.ExportedLabelPrefix + name
				if ls.Get(name) == "" {
					break
				}
			}
			b.Set(name, v)
		}
		b.Set(l.Name, l.Value)
	})
	return b.Labels()
}

// locate finds the first line at which body stops parsing. Exposition is
// line-based, so a prefix of whole lines parses without error exactly when
// it ends before the bad line; a binary search over prefixes finds it.
func locate(body []byte, contentType string) int {
	starts := []int{0}
	for i, c := range body {
		if c == '\n' && i+1 < len(body) {
			starts = append(starts, i+1)
		}
	}
	fails := func(k int) bool { // do the first k lines fail to parse?
		end := len(body)
		if k < len(starts) {
			end = starts[k]
		}
		return parseErr(body[:end], contentType) != nil
	}
	lo, hi := 1, len(starts)
	if !fails(hi) {
		return len(starts) + 1 // the error is past the last line, e.g. a missing # EOF
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// parseErr parses a prefix of whole lines; for OpenMetrics it supplies the
// terminating # EOF a prefix lacks.
func parseErr(prefix []byte, contentType string) error {
	p, err := textparse.New(prefix, contentType, labels.NewSymbolTable(), parserOptions)
	if p == nil {
		return err
	}
	if _, ok := p.(*textparse.OpenMetricsParser); ok && !bytes.Contains(prefix, []byte("# EOF")) {
		prefix = append(bytes.Clone(prefix), "# EOF\n"...)
		p, _ = textparse.New(prefix, contentType, labels.NewSymbolTable(), parserOptions)
	}
	for {
		_, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

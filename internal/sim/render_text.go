package sim

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The text writer below writes the subset of the 0.0.4 text format the
// simulator produces (gauges, counters and classic histograms without
// timestamps, legacy-valid names, label values that need no escaping) byte
// for byte as expfmt.MetricFamilyToText does, building each metric's label
// block once instead of once per line. Any family outside that subset goes
// to expfmt itself; TestTextWriterMatchesExpfmt holds the two together.

// famText is a family's text-format header and sample names, built once.
type famText struct {
	header             string // the # HELP and # TYPE lines
	bucket, sum, count string // histogram sample names
	fast               bool   // the name needs no quoting: the fast writer applies
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func newFamText(name, help string, typ dto.MetricType) famText {
	word := strings.ToLower(typ.String()) // gauge, counter, histogram
	return famText{
		header: "# HELP " + name + " " + helpEscaper.Replace(help) + "\n# TYPE " + name + " " + word + "\n",
		bucket: name + "_bucket", sum: name + "_sum", count: name + "_count",
		fast: word != "" && model.LegacyValidation.IsValidMetricName(name),
	}
}

// needsEscape reports whether a label value would be escaped in the text format.
//
//go:norace
func needsEscape(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\\' || c == '"' || c == '\n' {
			return true
		}
	}
	return false
}

// writeFamily writes family i of the builder, which holds at least one metric.
//
//go:norace
func (b *builder) writeFamily(out *bytes.Buffer, i int) error {
	f, ft := &b.fams[i], &b.t.text[i]
	if !ft.fast || f.escape {
		_, err := expfmt.MetricFamilyToText(out, f.mf)
		return err
	}
	name := b.t.names[i]
	out.WriteString(ft.header)
	for _, m := range f.mf.Metric {
		lb := b.labelBlock(m)
		switch {
		case m.Gauge != nil:
			writeTextSample(out, name, lb, "", m.Gauge.GetValue())
		case m.Counter != nil:
			writeTextSample(out, name, lb, "", m.Counter.GetValue())
		case m.Histogram != nil:
			h := m.Histogram
			les := b.upperBounds(h.Bucket)
			for j, bk := range h.Bucket {
				writeTextSample(out, ft.bucket, lb, les[j], float64(bk.GetCumulativeCount()))
			}
			if n := len(h.Bucket); n == 0 || !math.IsInf(h.Bucket[n-1].GetUpperBound(), 1) {
				writeTextSample(out, ft.bucket, lb, "+Inf", float64(h.GetSampleCount()))
			}
			writeTextSample(out, ft.sum, lb, "", h.GetSampleSum())
			writeTextSample(out, ft.count, lb, "", float64(h.GetSampleCount()))
		}
	}
	return nil
}

// labelBlock renders name="value" pairs, comma-separated, into b.scratch.
//
//go:norace
func (b *builder) labelBlock(m *dto.Metric) []byte {
	s := b.scratch[:0]
	for i, lp := range m.Label {
		if i > 0 {
			s = append(s, ',')
		}
		s = append(s, *lp.Name...)
		s = append(s, '=', '"')
		s = append(s, *lp.Value...)
		s = append(s, '"')
	}
	b.scratch = s
	return s
}

// upperBounds returns the formatted le values of a bucket layout, formatted
// once per builder (bucket bounds are shared by every histogram of a kind).
//
//go:norace
func (b *builder) upperBounds(bs []*dto.Bucket) []string {
	if len(bs) == 0 {
		return nil
	}
	key := bs[0].UpperBound
	if les, ok := b.les[key]; ok && len(les) == len(bs) {
		return les
	}
	les := make([]string, len(bs))
	for i, bk := range bs {
		les[i] = string(appendTextFloat(nil, bk.GetUpperBound()))
	}
	b.les[key] = les
	return les
}

// writeTextSample writes one line: name{labels,le="…"} value.
//
//go:norace
func writeTextSample(out *bytes.Buffer, name string, labels []byte, le string, v float64) {
	out.WriteString(name)
	if len(labels) > 0 || le != "" {
		out.WriteByte('{')
		out.Write(labels)
		if le != "" {
			if len(labels) > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`le="`)
			out.WriteString(le)
			out.WriteByte('"')
		}
		out.WriteByte('}')
	}
	out.WriteByte(' ')
	out.Write(appendTextFloat(out.AvailableBuffer(), v))
	out.WriteByte('\n')
}

// appendTextFloat formats v as expfmt does: the shortest 'g' form, with
// "+Inf", "-Inf", "NaN", and 0 for negative zero.
//
//go:norace
func appendTextFloat(dst []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(dst, '0')
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

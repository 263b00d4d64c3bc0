package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// codec is the JSON configuration of Prometheus's web/api/v1 codec: the
// standard library's escaping (HTML characters, U+2028 and U+2029, invalid
// UTF-8) with jsoniter's speed.
var codec = jsoniter.ConfigCompatibleWithStandardLibrary

// encode renders an API response. Query results of float samples (the bulk
// of the API's bytes) are written as Prometheus's web/api/v1 writes them:
// a jsoniter stream with Prometheus's own float encoder (util/jsonutil),
// labels in name order, no reflection, no per-sample allocation. Anything else (histograms, metadata, targets, errors) goes
// through encoding/json as before. Both give the same document; floats
// below 1e-6 or from 1e21 in magnitude are written in exponent form, as
// Prometheus writes them.
func encode(resp response) ([]byte, error) {
	qd, ok := resp.Data.(queryData)
	if !ok || !floatsOnly(qd.Result) {
		b, err := json.Marshal(resp)
		if err != nil {
			return nil, fmt.Errorf("encode the response: %w", err)
		}
		return b, nil
	}
	s := codec.BorrowStream(nil)
	defer codec.ReturnStream(s)
	s.WriteObjectStart()
	s.WriteObjectField("status")
	s.WriteStringWithHTMLEscaped(resp.Status)
	s.WriteMore()
	s.WriteObjectField("data")
	s.WriteObjectStart()
	s.WriteObjectField("resultType")
	s.WriteStringWithHTMLEscaped(qd.ResultType.String())
	s.WriteMore()
	s.WriteObjectField("result")
	switch v := qd.Result.(type) {
	case model.Vector:
		writeVector(s, v)
	case model.Matrix:
		writeMatrix(s, v)
	}
	s.WriteObjectEnd()
	for _, f := range []struct {
		name string
		val  []string
	}{{"warnings", resp.Warnings}, {"infos", resp.Infos}} {
		if len(f.val) == 0 {
			continue
		}
		s.WriteMore()
		s.WriteObjectField(f.name)
		s.WriteArrayStart()
		for i, w := range f.val {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteStringWithHTMLEscaped(w)
		}
		s.WriteArrayEnd()
	}
	s.WriteObjectEnd()
	if s.Error != nil {
		return nil, fmt.Errorf("encode the response: %w", s.Error)
	}
	return slices.Clone(s.Buffer()), nil
}

// floatsOnly reports whether v is a vector or matrix without histograms
// (nil vectors and matrices, which encoding/json writes as null, excluded).
func floatsOnly(v model.Value) bool {
	switch v := v.(type) {
	case model.Vector:
		if v == nil {
			return false
		}
		for _, s := range v {
			if s == nil || s.Histogram != nil {
				return false
			}
		}
		return true
	case model.Matrix:
		if v == nil {
			return false
		}
		for _, s := range v {
			if s == nil || len(s.Histograms) > 0 || s.Values == nil {
				return false
			}
		}
		return true
	}
	return false
}

func writeVector(s *jsoniter.Stream, v model.Vector) {
	s.WriteArrayStart()
	for i, x := range v {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteObjectStart()
		s.WriteObjectField("metric")
		writeMetric(s, x.Metric)
		s.WriteMore()
		s.WriteObjectField("value")
		writePair(s, x.Timestamp, x.Value)
		s.WriteObjectEnd()
	}
	s.WriteArrayEnd()
}

func writeMatrix(s *jsoniter.Stream, m model.Matrix) {
	s.WriteArrayStart()
	for i, x := range m {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteObjectStart()
		s.WriteObjectField("metric")
		writeMetric(s, x.Metric)
		s.WriteMore()
		s.WriteObjectField("values")
		s.WriteArrayStart()
		for j, p := range x.Values {
			if j > 0 {
				s.WriteMore()
			}
			writePair(s, p.Timestamp, p.Value)
		}
		s.WriteArrayEnd()
		s.WriteObjectEnd()
	}
	s.WriteArrayEnd()
}

func writePair(s *jsoniter.Stream, t model.Time, v model.SampleValue) {
	s.WriteArrayStart()
	writeTimestamp(s, int64(t))
	s.WriteMore()
	jsonutil.MarshalFloat(float64(v), s)
	s.WriteArrayEnd()
}

// writeTimestamp writes milliseconds as seconds, as model.Time's
// MarshalJSON does (no trailing zeros: 1.5, not jsonutil's 1.500).
func writeTimestamp(s *jsoniter.Stream, t int64) {
	buf := s.Buffer()
	if t < 0 {
		buf = append(buf, '-')
		t = -t
	}
	buf = strconv.AppendInt(buf, t/1000, 10)
	if f := t % 1000; f != 0 {
		buf = append(buf, '.', byte('0'+f/100))
		if f%100 != 0 {
			buf = append(buf, byte('0'+f/10%10))
			if f%10 != 0 {
				buf = append(buf, byte('0'+f%10))
			}
		}
	}
	s.SetBuffer(buf)
}

// writeMetric writes a label set as encoding/json writes a map: names in
// order, null for a nil map.
func writeMetric(s *jsoniter.Stream, m model.Metric) {
	if m == nil {
		s.WriteNil()
		return
	}
	var small [16]model.LabelName
	names := small[:0]
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	s.WriteObjectStart()
	for i, n := range names {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteStringWithHTMLEscaped(string(n)) // UTF-8 label names may hold anything
		s.WriteRaw(":")
		s.WriteStringWithHTMLEscaped(string(m[n]))
	}
	s.WriteObjectEnd()
}

package web

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestDrawable: a chart with more series than it can draw averages GPU
// series per GPU model (every model appears) and says what it keeps of
// pod series.
func TestDrawable(t *testing.T) {
	var gpus, pods model.Matrix
	for i := range 14 {
		gm := "NVIDIA H200"
		if i%7 == 0 {
			gm = "NVIDIA L4"
		}
		gpus = append(gpus, &model.SampleStream{Metric: model.Metric{"uuid": model.LabelValue(fmt.Sprint(i)), "modelName": model.LabelValue(gm)},
			Values: []model.SamplePair{{Timestamp: 0, Value: model.SampleValue(i)}}})
		pods = append(pods, &model.SampleStream{Metric: model.Metric{"pod": model.LabelValue(fmt.Sprint("p", i))},
			Values: []model.SamplePair{{Timestamp: 0, Value: model.SampleValue(i)}}})
	}
	ss, note := drawable(gpus)
	if len(ss) != 2 || !strings.HasPrefix(ss[0].Name, "NVIDIA H200 (mean of 12)") || !strings.HasPrefix(ss[1].Name, "NVIDIA L4 (mean of 2)") {
		t.Errorf("GPU series: %d drawn %v", len(ss), ss)
	}
	if note != "mean per GPU model of 14 GPU series (each MIG slice one)" {
		t.Errorf("GPU note %q", note)
	}
	if ss, note := drawable(pods); len(ss) != 14 || note != "top 10 by mean of 14 pods" || ss[0].Name != "p13" {
		t.Errorf("pods: %d series, note %q, first %q", len(ss), note, ss[0].Name)
	}
	if _, note := drawable(pods[:3]); note != "" {
		t.Errorf("3 pods: note %q, want none", note)
	}
}

// TestToSeries: series ordered by the mean of their finite values, largest
// first, ties and series with no finite value (last) by name; only the
// first maxSeries carry their points, and the chart draws those and counts
// the others.
func TestToSeries(t *testing.T) {
	nan, inf := model.SampleValue(math.NaN()), model.SampleValue(math.Inf(1))
	vals := map[string][]model.SampleValue{
		"a": {1, 3}, "b": {5}, "c": {2, nan}, "d": {2}, "e": {nan}, "f": {inf, 4},
		"g": {0}, "h": {-1}, "i": {7, 1}, "j": {3}, "k": {6}, "l": {1.5}, "m": {inf},
	}
	var m model.Matrix
	for _, n := range []string{"m", "l", "k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"} {
		s := &model.SampleStream{Metric: model.Metric{"pod": model.LabelValue(n)}}
		for i, v := range vals[n] {
			s.Values = append(s.Values, model.SamplePair{Timestamp: model.Time(i * 1000), Value: v})
		}
		m = append(m, s)
	}
	ss := toSeries(m, 1)
	var got []string
	for i, s := range ss {
		got = append(got, s.Name)
		if want := i < maxSeries; (s.Points != nil) != want || s.Axis != 1 {
			t.Errorf("%s at %d: points %v, axis %d", s.Name, i, s.Points, s.Axis)
		}
		if i < maxSeries && len(s.Points) != len(vals[s.Name]) {
			t.Errorf("%s: %d points, want %d", s.Name, len(s.Points), len(vals[s.Name]))
		}
	}
	// k 6, b 5, f 4 (its +Inf left out), i 4, j 3, a 2, c 2 (its NaN left
	// out), d 2, l 1.5, g 0, h -1, then e and m (no finite value).
	if want := "k b f i j a c d l g h e m"; strings.Join(got, " ") != want {
		t.Errorf("order %s, want %s", strings.Join(got, " "), want)
	}
	c := layoutLines(ss, time.Unix(0, 0), time.Unix(2, 0), "", "")
	if len(c.Paths) != maxSeries || c.More != len(m)-maxSeries {
		t.Errorf("chart: %d paths, %d more", len(c.Paths), c.More)
	}
}

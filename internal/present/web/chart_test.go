package web

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestNiceTicksCoverRange(t *testing.T) {
	for _, c := range []struct{ lo, hi float64 }{{0, 0.9}, {0, 1}, {0, 0.0003}, {-5, 17}, {0, 61234}, {0, 1e12}} {
		ts := niceTicks(c.lo, c.hi, 5)
		if len(ts) < 2 || ts[0] > c.lo || ts[len(ts)-1] < c.hi || len(ts) > 12 {
			t.Errorf("niceTicks(%g, %g) = %v: want 2–12 ticks covering the range", c.lo, c.hi, ts)
		}
	}
}

func TestLayoutLinesBreaksAtGaps(t *testing.T) {
	start := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var ps []point
	for i := range 6 {
		v := float64(i)
		if i == 3 {
			v = math.NaN()
		}
		ps = append(ps, point{T: start.Add(time.Duration(i) * time.Minute), V: v})
	}
	ss := []series{{Name: "a", Points: ps}}
	for i := range maxSeries + 2 {
		ss = append(ss, series{Name: strings.Repeat("b", 100+i), Points: ps[:1]})
	}
	c := layoutLines(ss, start, start.Add(5*time.Minute), "ratio", "", 0.85)
	if got := strings.Count(c.Paths[0].D, "M"); got != 2 {
		t.Errorf("path %q: %d segments, want 2 around the gap", c.Paths[0].D, got)
	}
	if c.More != 3 || len(c.Paths) != maxSeries {
		t.Errorf("%d paths and %d more, want %d and 3", len(c.Paths), c.More, maxSeries)
	}
	if n := len([]rune(c.Paths[1].Name)); n > maxLabel || len(c.Paths[1].Full) < 100 {
		t.Errorf("legend %d runes, full %d: want the legend cut and the title whole", n, len(c.Paths[1].Full))
	}
	if len(c.Lines) != 1 || c.Lines[0].Y < c.Y1 || c.Lines[0].Y > c.Y0 {
		t.Errorf("threshold line %+v outside the plot", c.Lines)
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0.853, "ratio", "85.3%"}, {1, "ratio", "100%"}, {0.25, "seconds", "250ms"}, {12.5, "seconds", "12.5s"},
		{80e9, "bytes", "80GB"}, {350, "watts", "350W"}, {61234, "tokens/s", "61.23 ktokens/s"}, {3, "requests", "3"},
	} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("formatValue(%g, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// TestRatioMatchesAcrossNames: two recorded signals over one subject
// differ only by metric name and still divide; other subjects don't.
func TestRatioMatchesAcrossNames(t *testing.T) {
	at := model.Time(60_000)
	stream := func(name, pod string, v float64) *model.SampleStream {
		return &model.SampleStream{Metric: model.Metric{model.MetricNameLabel: model.LabelValue(name), "pod": model.LabelValue(pod)},
			Values: []model.SamplePair{{Timestamp: at, Value: model.SampleValue(v)}}}
	}
	num := model.Matrix{stream("servescope:generation_tokens_per_second:sum", "a", 300), stream("servescope:generation_tokens_per_second:sum", "b", 10)}
	den := model.Matrix{stream("servescope:requests_running:sum", "a", 6), stream("servescope:requests_running:sum", "c", 1)}
	got := ratio(num, den)
	if len(got) != 1 || got[0].Metric["pod"] != "a" || got[0].Values[0].Value != 50 {
		t.Fatalf("ratio = %v, want pod a at 50", got)
	}
}

// TestCountAxesHaveIntegerTicks: a count axis (requests, GPUs) never shows
// a fraction, however small its range; other units keep their round steps.
func TestCountAxesHaveIntegerTicks(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		unit     string
		hi       float64
		integers bool
	}{{"requests", 1, true}, {"requests", 3, true}, {"gpus", 0.4, true}, {"workloads", 250, true}, {"ratio", 1, false}, {"tokens/s", 1, false}} {
		s := series{Name: "x", Points: []point{{T: start, V: 0}, {T: start.Add(time.Minute), V: tc.hi}}}
		c := layoutLines([]series{s}, start, start.Add(time.Minute), tc.unit, "")
		fractional := false
		for _, tk := range c.YTicks {
			if strings.ContainsAny(tk.Label, ".") {
				fractional = true
			}
		}
		if tc.integers && fractional {
			t.Errorf("%s up to %g: fractional ticks %v", tc.unit, tc.hi, c.YTicks)
		}
		if tc.integers && len(c.YTicks) < 2 {
			t.Errorf("%s up to %g: %d ticks", tc.unit, tc.hi, len(c.YTicks))
		}
		if !tc.integers && tc.unit == "tokens/s" && !fractional {
			t.Errorf("%s up to 1: want fine ticks, got %v", tc.unit, c.YTicks)
		}
	}
}

package web

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are laid out here, in Go, as plain geometry (coordinates, path data
// and label strings); the page template writes the SVG elements, so every
// label passes through html/template's escaping like any other text.

const (
	chartW     = 640.0
	chartH     = 220.0
	padLeft    = 56.0
	padRight   = 56.0
	padTop     = 18.0
	padBottom  = 26.0
	maxSeries  = 10
	maxLabel   = 48
	paletteLen = 10
)

type point struct {
	T time.Time
	V float64
}

// series is one named line; Axis 1 draws it against the right-hand axis.
type series struct {
	Name   string
	Points []point
	Axis   int
}

type tick struct {
	X, Y  float64
	Label string
}

type pathView struct {
	D     string
	Class string
	Name  string
	Full  string
	Dash  bool
}

type hline struct {
	Y     float64
	Label string
}

// lineChart is a laid-out line chart.
type lineChart struct {
	W, H           float64
	X0, X1, Y0, Y1 float64
	Paths          []pathView
	XTicks         []tick
	YTicks         []tick
	Y2Ticks        []tick
	Lines          []hline
	Unit, Unit2    string
	More           int
}

// layoutLines lays out up to maxSeries series between start and end; extra
// series are counted in More. Thresholds (in the left axis' unit) are drawn
// as dashed lines.
func layoutLines(ss []series, start, end time.Time, unit, unit2 string, thresholds ...float64) *lineChart {
	c := &lineChart{W: chartW, H: chartH, X0: padLeft, X1: chartW - padRight, Y0: chartH - padBottom, Y1: padTop, Unit: axisUnit(unit), Unit2: axisUnit(unit2)}
	if len(ss) > maxSeries {
		c.More = len(ss) - maxSeries
		ss = ss[:maxSeries]
	}
	var lo, hi [2]float64
	lo[0], lo[1], hi[0], hi[1] = 0, 0, math.Inf(-1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.Points {
			if finite(p.V) {
				lo[s.Axis] = min(lo[s.Axis], p.V)
				hi[s.Axis] = max(hi[s.Axis], p.V)
			}
		}
	}
	for _, th := range thresholds {
		hi[0] = max(hi[0], th)
	}
	var axes [2][]float64
	for a := range 2 {
		if math.IsInf(hi[a], -1) || hi[a] <= lo[a] {
			hi[a] = lo[a] + 1
		}
		axes[a] = niceTicks(lo[a], hi[a], 5)
		if countUnit([2]string{unit, unit2}[a]) {
			axes[a] = integerTicks(lo[a], hi[a], 5)
		}
		lo[a], hi[a] = axes[a][0], axes[a][len(axes[a])-1]
	}
	span := end.Sub(start).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return c.X0 + (c.X1-c.X0)*t.Sub(start).Seconds()/span }
	y := func(a int, v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*(v-lo[a])/(hi[a]-lo[a]) }
	for i, s := range ss {
		var b strings.Builder
		pen := false
		for _, p := range s.Points {
			if !finite(p.V) {
				pen = false
				continue
			}
			if pen {
				b.WriteString(" L")
			} else {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteByte('M')
			}
			b.WriteString(num(x(p.T)) + " " + num(y(s.Axis, p.V)))
			pen = true
		}
		c.Paths = append(c.Paths, pathView{D: b.String(), Class: "s" + strconv.Itoa(i%paletteLen), Name: shorten(s.Name), Full: s.Name, Dash: s.Axis == 1})
	}
	for _, v := range axes[0] {
		c.YTicks = append(c.YTicks, tick{X: c.X0 - 4, Y: y(0, v), Label: axisValue(v, unit)})
	}
	if unit2 != "" {
		for _, v := range axes[1] {
			c.Y2Ticks = append(c.Y2Ticks, tick{X: c.X1 + 4, Y: y(1, v), Label: axisValue(v, unit2)})
		}
	}
	for _, th := range thresholds {
		c.Lines = append(c.Lines, hline{Y: y(0, th), Label: formatValue(th, unit)})
	}
	for i := range 5 {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		c.XTicks = append(c.XTicks, tick{X: x(t), Y: c.Y0 + 16, Label: timeLabel(t, end.Sub(start))})
	}
	return c
}

// axisValue is a compact tick label: the unit goes in the axis title
// (axisUnit) unless the value carries it (percent, seconds, bytes).
func axisValue(v float64, unit string) string {
	switch unit {
	case "ratio", "seconds", "bytes":
		return formatValue(v, unit)
	}
	return si(v, "")
}

func axisUnit(unit string) string {
	switch unit {
	case "ratio", "seconds", "bytes":
		return ""
	}
	return unit
}

// countUnit reports whether a unit counts whole things (requests,
// workloads, GPUs), whose axis ticks are integers.
func countUnit(unit string) bool {
	switch unit {
	case "requests", "workloads", "gpus", "count":
		return true
	}
	return false
}

// integerTicks is niceTicks with a whole-number step: a count axis over
// [0, 1] shows 0 and 1, never 0.2 requests.
func integerTicks(lo, hi float64, n int) []float64 {
	lo, hi = math.Floor(lo), math.Max(math.Ceil(hi), math.Floor(lo)+1)
	ticks := niceTicks(lo, hi, n)
	if len(ticks) > 1 && ticks[1]-ticks[0] >= 1 {
		return ticks
	}
	var out []float64
	for v := lo; v <= hi; v++ {
		out = append(out, v)
	}
	return out
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	first := math.Floor(lo/step) * step
	var out []float64
	for i := 0; i < 4*n; i++ {
		v := math.Round((first+float64(i)*step)/step) * step
		out = append(out, v)
		if v >= hi-step*1e-9 && len(out) >= 2 {
			break
		}
	}
	return out
}

type scatterPoint struct {
	X, Y  float64
	Label string
	Value string
}

type region struct {
	X, Y, W, H float64
	Class      string
	Label      string
	LX, LY     float64
}

// scatterChart is the GPU quadrant: busy (x) against memory bandwidth (y),
// both ratios in [0, 1], with the diagnosis regions behind the points.
type scatterChart struct {
	W, H           float64
	X0, X1, Y0, Y1 float64
	XMid           float64
	Points         []scatterPoint
	Regions        []region
	XTicks, YTicks []tick
}

// Regions are the busy and memory-bandwidth thresholds the GPU quadrant marks.
type Regions struct {
	// IdleBusy: below it a GPU is idle.
	IdleBusy float64
	// BoundBusy: at least this busy and at least BoundDRAM memory bandwidth
	// is memory-bandwidth-bound; below BoundBusy (and above IdleBusy) is
	// under-used.
	BoundBusy float64
	BoundDRAM float64
}

// DefaultRegions are diagnosis' default thresholds.
func DefaultRegions() Regions { return Regions{IdleBusy: 0.10, BoundBusy: 0.5, BoundDRAM: 0.4} }

type xy struct {
	Name string
	X, Y float64
}

func layoutScatter(pts []xy, r Regions) *scatterChart {
	c := &scatterChart{W: 520, H: 420, X0: padLeft, X1: 520 - 16, Y1: 24}
	c.Y0 = c.H - padBottom - 16
	c.XMid = (c.X0 + c.X1) / 2
	x := func(v float64) float64 { return c.X0 + (c.X1-c.X0)*clamp01(v) }
	y := func(v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*clamp01(v) }
	box := func(x0, x1, y0, y1 float64, class, label string) {
		c.Regions = append(c.Regions, region{X: x(x0), Y: y(y1), W: x(x1) - x(x0), H: y(y0) - y(y1), Class: class, Label: label, LX: x(x0) + 4, LY: y(y1) + 14})
	}
	box(0, r.IdleBusy, 0, 1, "idle", "idle")
	box(r.IdleBusy, r.BoundBusy, 0, 1, "under", "under-used")
	box(r.BoundBusy, 1, r.BoundDRAM, 1, "membound", "memory-bound")
	box(r.BoundBusy, 1, 0, r.BoundDRAM, "busy", "busy")
	for _, p := range pts {
		c.Points = append(c.Points, scatterPoint{X: x(p.X), Y: y(p.Y), Label: p.Name,
			Value: "busy " + formatValue(p.X, "ratio") + ", memory bandwidth " + formatValue(p.Y, "ratio")})
	}
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		c.XTicks = append(c.XTicks, tick{X: x(v), Y: c.Y0 + 16, Label: formatValue(v, "ratio")})
		c.YTicks = append(c.YTicks, tick{X: c.X0 - 4, Y: y(v), Label: formatValue(v, "ratio")})
	}
	return c
}

type bar struct {
	X, Y, W, H float64
	Label      string
	Value      string
	LX         float64
}

// barChart is a laid-out vertical bar chart (histograms and per-team bars).
type barChart struct {
	W, H   float64
	X0, Y0 float64
	Bars   []bar
}

func layoutBars(labels []string, values []float64, unit string) *barChart {
	c := &barChart{W: chartW, H: chartH, X0: padLeft, Y0: chartH - padBottom}
	top := 0.0
	for _, v := range values {
		if finite(v) {
			top = max(top, v)
		}
	}
	if top == 0 {
		top = 1
	}
	n := float64(max(len(values), 1))
	slot := (chartW - padLeft - padRight) / n
	for i, v := range values {
		if !finite(v) {
			v = 0
		}
		h := (c.Y0 - padTop - 14) * v / top
		x := padLeft + slot*float64(i)
		c.Bars = append(c.Bars, bar{X: x + slot*0.1, Y: c.Y0 - h, W: slot * 0.8, H: h, Label: shorten(labels[i]), Value: formatValue(v, unit), LX: x + slot/2})
	}
	return c
}

func clamp01(v float64) float64 {
	if !finite(v) {
		return 0
	}
	return min(max(v, 0), 1)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// shorten cuts long names for chart legends; the full name stays in the
// element's title.
func shorten(s string) string {
	r := []rune(s)
	if len(r) <= maxLabel {
		return s
	}
	return string(r[:maxLabel-1]) + "…"
}

func timeLabel(t time.Time, span time.Duration) string {
	if span > 24*time.Hour {
		return t.UTC().Format("01-02 15:04")
	}
	return t.UTC().Format("15:04")
}

// formatValue renders v in unit, with SI prefixes for large values.
func formatValue(v float64, unit string) string {
	if !finite(v) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch unit {
	case "ratio":
		return strings.TrimSuffix(strconv.FormatFloat(v*100, 'f', 1, 64), ".0") + "%"
	case "seconds":
		switch a := math.Abs(v); {
		case a == 0:
			return "0s"
		case a < 1:
			return si(v*1000, "ms")
		default:
			return si(v, "s")
		}
	case "bytes":
		return si(v, "B")
	}
	return si(v, unitSuffix(unit))
}

func unitSuffix(unit string) string {
	switch unit {
	case "", "requests", "workloads", "gpus", "code", "count":
		return ""
	case "watts":
		return "W"
	case "tokens/s", "1/s", "GPU-h":
		return " " + unit
	}
	return " " + unit
}

func si(v float64, suffix string) string {
	prefixes := []string{"", "k", "M", "G", "T", "P"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if strings.HasPrefix(suffix, " ") && prefixes[i] != "" {
		return s + " " + prefixes[i] + suffix[1:]
	}
	return s + prefixes[i] + suffix
}

package schema

import (
	"math"
	"slices"
)

// Level is what a signal describes: the subject its values are keyed by.
type Level string

// Levels, each with its own key labels (see Level.Key).
const (
	LevelPod       Level = "pod"
	LevelGPU       Level = "gpu"
	LevelQueue     Level = "queue"
	LevelNamespace Level = "namespace"
	LevelTeam      Level = "team"
)

// Key returns the canonical labels that identify one subject of the level.
// Sources of one signal are deduplicated on these labels: for each subject the
// first source that has data wins.
func (l Level) Key() []string {
	switch l {
	case LevelPod:
		return []string{"namespace", "pod", "instance"}
	case LevelGPU:
		return []string{"hostname", "uuid", "GPU_I_ID"}
	case LevelQueue:
		return []string{"cluster_queue"}
	case LevelNamespace:
		return []string{"namespace"}
	case LevelTeam:
		return []string{"team"}
	}
	return nil
}

// Kind is the shape of a signal's values.
type Kind string

// Kinds of signal.
const (
	// KindGauge is an instantaneous value.
	KindGauge Kind = "gauge"
	// KindCounter is a counter's value, read as increase() reads it (a
	// drop is a reset), e.g. energy since boot.
	KindCounter Kind = "counter"
	// KindRate is a per-second rate derived from a counter.
	KindRate Kind = "rate"
	// KindRatio is a 0–1 ratio, either a gauge or a ratio of two rates.
	KindRatio Kind = "ratio"
	// KindHistogram is the per-second rate of a classic histogram's buckets
	// (label le kept); quantiles are derived with histogram_quantile.
	KindHistogram Kind = "histogram"
	// KindInfo has value 1 and carries its information in labels.
	KindInfo Kind = "info"
)

// Aggregation says how series of one subject are combined, e.g. the
// per-rank series of a data-parallel engine (label engine): sum for counts
// and rates, avg for ratios, max for values repeated per series.
type Aggregation string

// Aggregations; the value is the last part of the recording rule name.
const (
	AggSum     Aggregation = "sum"
	AggAvg     Aggregation = "avg"
	AggMax     Aggregation = "max"
	AggBuckets Aggregation = "buckets"
	// AggInfo keeps one series per distinct label set, value 1 (PromQL group).
	AggInfo Aggregation = "info"
)

// Unit is the unit of a signal's values, in Prometheus base-unit spelling.
type Unit string

// Units used by the catalog.
const (
	UnitRequests        Unit = "requests"
	UnitRatio           Unit = "ratio"
	UnitTokensPerSecond Unit = "tokens/s"
	UnitTokens          Unit = "tokens"
	UnitPerSecond       Unit = "1/s"
	UnitSeconds         Unit = "seconds"
	UnitBytes           Unit = "bytes"
	UnitWatts           Unit = "watts"
	UnitJoules          Unit = "joules"
	UnitCelsius         Unit = "celsius"
	UnitCode            Unit = "code"
	UnitRows            Unit = "rows"
	UnitErrors          Unit = "errors"
	UnitWorkloads       Unit = "workloads"
	UnitGPUs            Unit = "gpus"
	UnitInfo            Unit = "info"
)

// Range is the valid interval of a signal's values. Values outside it are
// flagged by the signal's range check, never clamped.
type Range struct {
	Min, Max float64
}

// NonNegative is the range [0, +Inf).
func NonNegative() *Range { return &Range{Min: 0, Max: math.Inf(1)} }

// UnitInterval is the range [0, 1].
func UnitInterval() *Range { return &Range{Min: 0, Max: 1} }

// Contains reports whether v lies in the range. NaN is never in range.
func (r *Range) Contains(v float64) bool {
	if r == nil {
		return true
	}
	return v >= r.Min && v <= r.Max
}

// Alias maps alternative spellings of a label onto its canonical name. From is
// in order of preference: the first alias present on a series wins, and the
// canonical label itself is used only when none is present.
type Alias struct {
	Canonical string
	From      []string
	// Levels limits the alias to signals of these levels; empty means all.
	Levels []Level
}

func (a Alias) appliesTo(l Level) bool {
	return len(a.Levels) == 0 || slices.Contains(a.Levels, l)
}

// Source is one way to obtain a signal from one exporter and version range.
type Source struct {
	// Exporter is the program that exposes the metrics: vllm, sglang, tgi,
	// llamacpp, dcgm-exporter, kueue, kube-state-metrics.
	Exporter string
	// Versions says which versions expose these metric names.
	Versions string
	// Expr is a PromQL expression returning one instant-vector series per
	// exporter series, with the exporter's own labels. Aliases are applied to
	// every selector in it.
	Expr string
	// Denominator, if set, makes the signal sum(Expr) / sum(Denominator) per
	// subject, e.g. hits over queries.
	Denominator string
	// Relabel holds aliases that apply to this source only, e.g. Kueue's
	// LocalQueue `name` label to local_queue.
	Relabel []Alias
	// Note explains a choice or a caveat; it appears in docs and explain.
	Note string
	// Buckets are the default upper bounds of a histogram source's
	// classic buckets in these versions (nil when not known): a latency
	// objective's threshold must be one of them to be read exactly.
	Buckets []float64
}

// Signal is one canonical signal.
type Signal struct {
	// Name is the canonical name, snake_case with a unit suffix where useful.
	Name string
	// Help is one sentence saying what the value means.
	Help  string
	Unit  Unit
	Kind  Kind
	Level Level
	Agg   Aggregation
	// Extra lists labels kept besides the level key, e.g. model_name or
	// finished_reason.
	Extra []string
	// Range, if set, is the valid range; out-of-range values are flagged.
	Range *Range
	// Sources are tried in order: per subject, the first one with data wins.
	Sources []Source
	// DedupeOnKey makes later sources yield to earlier ones per subject (key
	// labels) even when their other labels differ, e.g. a fallback without
	// local_queue. Histograms always do, so bucket sets never mix; otherwise
	// `or` already keeps the first of identical label sets.
	DedupeOnKey bool
	// Key, if set, replaces the level's key labels (used by topology links,
	// whose subject is a pair such as pod and queue).
	Key []string
	// From names the lower-level signals this one rolls up to teams (Level
	// team only), in order of preference: per team the first with data wins.
	// A roll-up has no Sources of its own.
	From []string
}

// RecordName is the name of the recording rule holding the signal:
// servescope:<signal>:<aggregation>.
func (s *Signal) RecordName() string {
	return "servescope:" + s.Name + ":" + string(s.Agg)
}

// By returns the labels the signal is grouped by: the level key then Extra.
func (s *Signal) By() []string {
	return append(s.KeyLabels(), s.Extra...)
}

// KeyLabels returns the labels identifying one subject of the signal.
func (s *Signal) KeyLabels() []string {
	if s.Key != nil {
		return slices.Clone(s.Key)
	}
	return s.Level.Key()
}

// Quantiles are the quantiles recorded for histogram signals.
func Quantiles() []float64 { return []float64{0.5, 0.95, 0.99} }

func isInf(v float64, sign int) bool { return math.IsInf(v, sign) }

package model

import "time"

// Objective is one latency objective as a person writes it: Target of the
// requests of Model have Indicator ≤ Threshold over Window. The one
// definition of its fields: config.Objective embeds it (with the lines it
// was read from) and slo.Objective is this type with the computations,
// converted as slo.Objective(o).
type Objective struct {
	// Name labels the objective's series and alerts (the slo label);
	// default <indicator>-<threshold>, e.g. ttft-500ms.
	Name string
	// Model is a model_name, or "*" for every model without an objective
	// of its own for the same indicator.
	Model string
	// Indicator is ttft, itl, tpot or e2e.
	Indicator string
	Threshold time.Duration
	// Target is the fraction of good requests, in (0, 1).
	Target float64
	Window time.Duration
	// Engine, when set, limits the objective to one exporter's series
	// (vllm, sglang, ...).
	Engine string
}

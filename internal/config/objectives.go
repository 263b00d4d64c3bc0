package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	smodel "github.com/servescope/servescope/internal/model"
)

// Indicators are the latency indicators an objective may name, each read
// from one of the engines' latency histograms.
var Indicators = []string{"ttft", "itl", "tpot", "e2e"}

// DefaultObjectiveWindow is an objective's window when it names none.
const DefaultObjectiveWindow = 28 * 24 * time.Hour

// Objective is one latency objective of the servescope section: "Target
// of the requests of Model have Indicator ≤ Threshold over Window". Its
// threshold is checked against the engines' bucket layouts where the
// catalog is known (app.LoadSettings), at ThresholdLine.
type Objective struct {
	smodel.Objective
	// Line is the objective's line; ThresholdLine its threshold's.
	Line, ThresholdLine int
}

// objectiveKeys are the keys an objective may have.
var objectiveKeys = []string{"name", "model", "indicator", "threshold", "target", "window", "engine"}

// UnmarshalYAML decodes one objective strictly: unknown keys, and values
// that do not parse, are errors at their line.
func (o *Objective) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: an objective is a mapping of %s", n.Line, strings.Join(objectiveKeys, ", "))}}
	}
	*o = Objective{Objective: smodel.Objective{Window: DefaultObjectiveWindow}, Line: n.Line}
	var errs []string
	bad := func(line int, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("line %d: objectives: ", line)+fmt.Sprintf(format, a...))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			bad(k.Line, "key %s given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			bad(v.Line, "%s: want a single value", k.Value)
			continue
		}
		val := strings.TrimSpace(v.Value)
		switch k.Value {
		case "name":
			o.Name = val
			if !model.LegacyValidation.IsValidLabelName(strings.ReplaceAll(val, "-", "_")) {
				bad(v.Line, "name %q: want letters, digits, _ and -", val)
			}
		case "model":
			o.Model = val
		case "indicator":
			o.Indicator = val
			if !slices.Contains(Indicators, val) {
				bad(v.Line, "indicator %q: want one of %s", val, strings.Join(Indicators, ", "))
			}
		case "threshold":
			d, err := model.ParseDuration(val)
			if err != nil || d <= 0 {
				bad(v.Line, "threshold %q: want a latency such as 500ms or 2s", val)
			}
			o.Threshold, o.ThresholdLine = time.Duration(d), v.Line
		case "target":
			t, err := parseTarget(val)
			if err != nil {
				bad(v.Line, "target %q: %v", val, err)
			}
			o.Target = t
		case "window":
			d, err := model.ParseDuration(val)
			if err != nil || time.Duration(d) < time.Hour {
				bad(v.Line, "window %q: want a duration of at least 1h, such as 28d", val)
			}
			o.Window = time.Duration(d)
		case "engine":
			o.Engine = val
		default:
			msg := fmt.Sprintf("unknown key %s in an objective (want %s)", k.Value, strings.Join(objectiveKeys, ", "))
			if s := closest(k.Value, objectiveKeys); s != "" {
				msg = fmt.Sprintf("unknown key %s in an objective; did you mean %s?", k.Value, s)
			}
			errs = append(errs, fmt.Sprintf("line %d: objectives: %s", k.Line, msg))
		}
	}
	for _, req := range []string{"model", "indicator", "threshold", "target"} {
		if !seen[req] {
			bad(n.Line, "%s is required", req)
		}
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	if o.Name == "" {
		o.Name = o.Indicator + "-" + model.Duration(o.Threshold).String()
	}
	return nil
}

// parseTarget reads "99%", "99.9%" or 0.99 as a fraction in (0, 1).
func parseTarget(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil {
		return 0, fmt.Errorf("want a percentage such as 99%% or a fraction such as 0.99")
	}
	if pct {
		v /= 100
	}
	if !(v > 0 && v < 1) || math.IsNaN(v) {
		return 0, fmt.Errorf("want more than 0%% and less than 100%%")
	}
	return v, nil
}

// checkObjectives refuses two objectives with the same name, or for the
// same model and indicator and threshold, and a negative minimum rate.
func checkObjectives(file string, ext *yaml.Node, objs []Objective, minRate float64) error {
	var out Errors
	names := map[string]int{}
	for _, o := range objs {
		if l, dup := names[o.Name]; dup {
			out = append(out, &Error{File: file, Line: o.Line, Reason: fmt.Sprintf("%s.objectives: objective %s declared twice (first at line %d)", ExtensionKey, o.Name, l)})
			continue
		}
		names[o.Name] = o.Line
		if o.Model == "" {
			out = append(out, &Error{File: file, Line: o.Line, Reason: fmt.Sprintf("%s.objectives: objective %s: model is empty; use \"*\" for every model", ExtensionKey, o.Name)})
		}
	}
	if minRate < 0 || math.IsNaN(minRate) || math.IsInf(minRate, 0) {
		out = append(out, &Error{File: file, Line: findKey(ext, "slo_min_request_rate"), Reason: fmt.Sprintf("slo_min_request_rate %v: want requests per second, a finite number ≥ 0", minRate)})
	}
	return oneOrAll(out)
}

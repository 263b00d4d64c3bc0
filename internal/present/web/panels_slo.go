package web

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/slo"
)

// Objectives supplies the latency objectives' status per model at a time
// (slo.Evaluate: the one computation the diagnosis and the report read).
type Objectives interface {
	Objectives(ctx context.Context, at time.Time) ([]slo.Status, error)
}

// objectivesHelp says how to read the panel.
const objectivesHelp = "per objective and model at the range's end: error budget remaining over the objective's window (1 − slow ratio ÷ budget) and burn rates (slow ratio ÷ budget; 14.4 over 1h and 5m pages, 6 over 6h and 30m pages, 1 over 3d and 6h opens a ticket)"

// objectivesPanel is the latency objectives as a table, for the selected
// model or every model.
func objectivesPanel(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Objectives == nil {
		return fmt.Errorf("no latency objectives in servescope.yml (servescope.objectives): %w", errUnavailable)
	}
	sts, err := e.h.opts.Objectives.Objectives(ctx, e.end)
	if err != nil {
		return fmt.Errorf("latency objectives: %w", err)
	}
	// On a model's page the model column would repeat the picker.
	one := e.st.Model != ""
	t := &table{Head: []string{"objective", "model", "target", "budget left", "slow ratio", "burn 5m", "burn 1h", "burn 6h", "burn 3d", "requests/s (1h)", "alerts"}}
	if one {
		t.Head = slices.Delete(t.Head, 1, 2)
	}
	pct := func(x float64) string { return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%" }
	for _, s := range sts {
		if e.st.Model != "" && s.Model != e.st.Model {
			continue
		}
		o := s.Objective
		row := []string{o.Name, s.Model, fmt.Sprintf("%s ≤ %s, %s over %s", strings.ToUpper(o.Indicator), slo.WindowName(o.Threshold), pct(o.Target), slo.WindowName(o.Window)),
			pct(s.BudgetRemaining), pct(s.ErrorRatio)}
		if one {
			row = slices.Delete(row, 1, 2)
		}
		for _, w := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 3 * 24 * time.Hour} {
			if b, ok := s.Burn(w); ok {
				row = append(row, strconv.FormatFloat(math.Round(b*10)/10, 'f', -1, 64)+"×")
			} else {
				row = append(row, "not reported")
			}
		}
		row = append(row, strconv.FormatFloat(math.Round(s.Requests*100)/100, 'f', -1, 64))
		var firing []string
		for _, b := range s.Firing {
			firing = append(firing, b.Severity+" ("+slo.WindowName(b.Long)+"/"+slo.WindowName(b.Short)+")")
		}
		if len(firing) == 0 {
			firing = []string{"none"}
		}
		row = append(row, strings.Join(firing, ", "))
		t.Rows = append(t.Rows, row)
	}
	if len(t.Rows) > 0 {
		v.Table = t
	}
	return nil
}

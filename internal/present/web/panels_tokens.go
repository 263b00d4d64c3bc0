package web

import (
	"context"
	"fmt"
	"strconv"

	"github.com/servescope/servescope/internal/analyze/cost"
)

// tokenCostTitle and tokenCostHelp name the cost per million tokens panel
// on the dashboard's Queues & teams page and in the report.
const (
	tokenCostTitle = "Cost per million tokens"
	tokenCostHelp  = "per served model on each GPU model: the serving pods' allocated GPU-hours (their idle time included) over their tokens; used-only beside; - is not reported"
)

// tokenCosts is the fleet model's cost per million tokens as a table: one
// row per served model on a GPU model, then the total.
func tokenCosts(ctx context.Context, e *env, v *panelView) error {
	if e.h.opts.Fleet == nil {
		return fmt.Errorf("cost per million tokens: %w", errUnavailable)
	}
	at, window := e.diagnosis(ctx, v)
	f, err := e.h.opts.Fleet.Fleet(ctx, at, window)
	if err != nil {
		return fmt.Errorf("cost per million tokens: %w", err)
	}
	if f == nil || f.Model == nil || f.Model.TokenCost == nil {
		return nil
	}
	v.Table = tokenCostTable(f.Model.Currency, f.Model.TokenCost)
	return nil
}

// tokenCostTable renders the rows; money per million to four decimals
// (often below a cent), a figure no engine reports as "-", never 0.
func tokenCostTable(currency string, tc *cost.TokenCosts) *table {
	t := &table{Head: []string{"model on GPU", "allocated GPU-h", "money", "prompt tokens", "computed", "cached", "generated tokens",
		"per million tokens", "used-only per million", "per million generated", "reference per million"}}
	money := func(m *cost.Micros) string {
		if m == nil {
			return "-"
		}
		s := strconv.FormatFloat(float64(*m)/1e6, 'f', 4, 64)
		if currency != "" {
			s += " " + currency
		}
		return s
	}
	tok := func(f *float64) string {
		if f == nil {
			return "-"
		}
		return strconv.FormatFloat(*f, 'f', 0, 64)
	}
	for _, r := range append(tc.ByModelGPU[:len(tc.ByModelGPU):len(tc.ByModelGPU)], tc.Totals) {
		t.Rows = append(t.Rows, []string{r.Name, strconv.FormatFloat(r.AllocatedGPUHours, 'f', 1, 64), r.Cost.Format(currency), tok(r.PromptTokens),
			tok(r.ComputedPromptTokens), tok(r.CachedPromptTokens), tok(r.GenerationTokens), money(r.CostPerMillionTokens),
			money(r.UsedCostPerMillionTokens), money(r.CostPerMillionGeneration), money(r.ReferencePerMillionTokens)})
	}
	return t
}

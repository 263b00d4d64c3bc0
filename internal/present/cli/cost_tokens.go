package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/model"
)

// notReported stands in a table for a figure no engine reports: never 0.
const notReported = "-"

// tokenGroups picks the groupings of a set's cost per million tokens that
// `cost` shows: served model on GPU model always, then the report's
// aggregate (team, namespace, GPU model or cluster).
func tokenGroups(tc *cost.TokenCosts, by cost.Aggregate) []tokenGroup {
	out := []tokenGroup{{"model on GPU", tc.ByModelGPU}}
	switch by {
	case cost.ByTeam:
		out = append(out, tokenGroup{"team", tc.ByTeam})
	case cost.ByNamespace:
		out = append(out, tokenGroup{"namespace", tc.ByNamespace})
	case cost.ByModel:
		out = append(out, tokenGroup{"GPU model", tc.ByGPUModel})
	case cost.ByCluster:
		if len(tc.ByCluster) > 0 {
			out = append(out, tokenGroup{"cluster", tc.ByCluster})
		}
	}
	return out
}

// tokenGroup is one grouping's name and rows.
type tokenGroup struct {
	name string
	rows []cost.TokenCost
}

// TokenCostHeader is the columns of the cost per million tokens table.
func TokenCostHeader(group string) []string {
	return []string{group, "allocated_gpu_h", "cost", "prompt_tokens", "computed", "cached", "transferred", "generated_tokens",
		"per_m_tokens", "used_only_per_m", "per_m_prompt", "per_m_generated", "per_m_computed", "reference_per_m", "reference_cost"}
}

// TokenCostRow is one row of that table; money as the report's format
// wants it, a figure not reported as notReported.
func TokenCostRow(rep *cost.Report, r cost.TokenCost, format string) []string {
	tok := func(f *float64) string {
		if f == nil {
			return notReported
		}
		return strconv.FormatFloat(*f, 'f', 0, 64)
	}
	money := func(m *cost.Micros) string {
		if m == nil {
			return notReported
		}
		if format == CostCSV {
			return m.String()
		}
		// Per-million figures are often fractions of a cent.
		return perMillionText(*m, rep.Currency)
	}
	c := r.Cost
	return []string{model.TerminalSafe(r.Name), costHours(r.AllocatedGPUHours), money(&c), tok(r.PromptTokens), tok(r.ComputedPromptTokens),
		tok(r.CachedPromptTokens), tok(r.TransferredPromptTokens), tok(r.GenerationTokens), money(r.CostPerMillionTokens),
		money(r.UsedCostPerMillionTokens), money(r.CostPerMillionPrompt), money(r.CostPerMillionGeneration), money(r.CostPerMillionComputed),
		money(r.ReferencePerMillionTokens), money(r.ReferenceCost)}
}

// perMillionText shows money to four decimals: cost per million tokens
// is often below a cent.
func perMillionText(m cost.Micros, currency string) string {
	s := strconv.FormatFloat(float64(m)/1e6, 'f', 4, 64)
	if currency != "" {
		s += " " + currency
	}
	return s
}

// writeTokenCost prints each set's cost per million tokens under the
// allocations table.
func writeTokenCost(w io.Writer, rep *cost.Report) error {
	for _, set := range rep.Sets {
		tc := set.TokenCost
		if tc == nil {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "\ncost per million tokens, %s to %s (allocated GPU-hours of the serving pods, their idle time included; used-only beside):\n",
			set.Start.Format("2006-01-02T15:04:05Z07:00"), set.End.Format("2006-01-02T15:04:05Z07:00"))
		for _, g := range tokenGroups(tc, rep.By) {
			fmt.Fprintln(tw, strings.ToUpper(strings.Join(TokenCostHeader(strings.ReplaceAll(g.name, " ", "_")), "\t")))
			for _, r := range append(g.rows, tc.Totals) {
				fmt.Fprintln(tw, strings.Join(TokenCostRow(rep, r, CostTable), "\t"))
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s: not reported (the engine exports no such token counter); a per-million figure needs tokens > 0\n", notReported)
		if tc.Totals.PodsWithoutTokens > 0 {
			fmt.Fprintf(tw, "note: %d serving pod(s) export no token counter: their cost is in COST, not in the per-million figures\n", tc.Totals.PodsWithoutTokens)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

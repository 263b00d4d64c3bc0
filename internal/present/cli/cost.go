package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/model"
)

// Cost output formats.
const (
	CostTable = "table"
	CostJSON  = "json"
	CostCSV   = "csv"
)

// WriteCost renders a cost report (`servescope cost`) as a table, JSON or
// CSV (CostTable, CostJSON, CostCSV).
func WriteCost(w io.Writer, rep *cost.Report, format string) error {
	if format == CostJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	header := []string{"window", string(rep.By), "reserved_gpu_h", "allocated_gpu_h", "pod_gpu_h", "kueue_gpu_h", "used_gpu_h", "unused_gpu_h", "idle_gpu_h", "efficiency", "cost", "unused_cost", "idle_cost", "total_cost", "energy_kwh"}
	emissions := hasEmissions(rep)
	if emissions {
		header = append(header, "emissions_kg_co2e")
	}
	header = append(header, "unpriced")
	var rows [][]string
	for _, set := range rep.Sets {
		// The span with data; a set without data shows the requested
		// window (its warning says there was nothing to attribute).
		from, to := set.CoveredStart, set.CoveredEnd
		if from.IsZero() {
			from, to = set.Start, set.End
		}
		win := from.Format(time.RFC3339) + "/" + to.Format(time.RFC3339)
		all := set.Allocations
		if set.Idle != nil {
			all = append(all, *set.Idle)
		}
		all = append(all, set.Totals)
		for _, a := range all {
			row := []string{win, a.Name, costHours(a.ReservedGPUHours), costHours(a.AllocatedGPUHours), costHours(a.PodGPUHours),
				costHours(a.KueueGPUHours), costHours(a.UsedGPUHours), costHours(max(0, a.AllocatedGPUHours-a.UsedGPUHours)), costHours(a.IdleGPUHours),
				strconv.FormatFloat(a.Efficiency, 'f', 3, 64), costMoney(rep, a.Cost, format), costMoney(rep, a.UnusedCost, format),
				costMoney(rep, a.IdleCost, format), costMoney(rep, a.TotalCost, format), costHours(a.EnergyKWh)}
			if emissions {
				row = append(row, costHours(a.EmissionsKgCO2e))
			}
			rows = append(rows, append(row, strings.Join(a.Unpriced, " ")))
		}
	}
	if format == CostCSV {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		if err := cw.WriteAll(rows); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(header, "\t")))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	unpriced := false
	for _, set := range rep.Sets {
		if set.Fleet.PhysicalGPUs > 0 {
			fmt.Fprintf(tw, "fleet at %s: %s; %.2f GPU-equivalents; allocatable %s GPU-h (%s) = allocated + idle\n",
				set.End.Format(time.RFC3339), fleet.GPUsText(set.Fleet.ModelGPUs), set.Fleet.GPUEquivalents,
				costHours(set.Fleet.AllocatableGPUHours), costMoney(rep, set.Fleet.AllocatableCost, format))
		}
		if len(set.Clusters) > 1 {
			fmt.Fprintf(tw, "clusters: %s (each computed on its own and added; --by cluster for a row each, --cluster NAME for one)\n", model.TerminalSafe(strings.Join(set.Clusters, ", ")))
		}
		if set.EnergySource != "" && !slices.Contains(set.Warnings, set.EnergySource) {
			fmt.Fprintf(tw, "%s (ENERGY_KWH: the GPUs each row's pods held, while they held them)\n", set.EnergySource)
		}
		for _, me := range set.TokensPerJoule {
			fmt.Fprintf(tw, "tokens per joule: %s on %s: %.4f (prompt %.4f, generated %.4f; %.3f kWh)\n", model.TerminalSafe(me.Model), model.TerminalSafe(me.GPUModel),
				me.TokensPerJoule, me.PromptPerJoule, me.GeneratedPerJoule, me.EnergyKWh)
		}
		for _, warn := range set.Warnings {
			fmt.Fprintf(tw, "warning: %s\n", warn)
		}
		for _, a := range append(slices.Clone(set.Allocations), set.Totals) {
			unpriced = unpriced || len(a.Unpriced) > 0
		}
	}
	if unpriced {
		fmt.Fprintln(tw, "note: some GPU-hours are unpriced (UNPRICED column): give a price book with --prices FILE (e.g. examples/scenarios/prices.yml) or price_book in --config")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeTokenCost(w, rep)
}

// hasEmissions reports whether a carbon intensity was configured: some
// allocation has emissions.
func hasEmissions(rep *cost.Report) bool {
	for _, set := range rep.Sets {
		if set.Totals.EmissionsKgCO2e > 0 {
			return true
		}
	}
	return false
}

func costHours(h float64) string { return strconv.FormatFloat(h, 'f', 3, 64) }

// costMoney prints money as every surface does in tables and full
// micro-units in CSV.
func costMoney(rep *cost.Report, m cost.Micros, format string) string {
	if format == CostCSV {
		return m.String()
	}
	return m.Format(rep.Currency)
}

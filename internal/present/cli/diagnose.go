package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/model"
)

// WriteDiagnosis writes `servescope diagnose`'s tables: the findings that
// call for something, by impact (identical findings on the pods of one
// deployment on one line with their count, healthy subjects hidden and
// counted), then the capacity advice per model and kind of GPU, so the
// advice is read in the table, not only in the JSON.
func WriteDiagnosis(w io.Writer, r *diagnose.Report) error {
	groups, healthy := diagnose.Visible(r.Findings)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	listed := 0 // the header counts what the table lists
	for _, g := range groups {
		listed += g.Count
	}
	fmt.Fprintf(tw, "diagnosis at %s over %s: %d pods, %d findings (healthy subjects not listed)\n", r.At.UTC().Format(time.RFC3339), r.Window, len(r.Pods), listed)
	if m := r.Utilisation.Fleet; m != nil {
		fmt.Fprintf(tw, "fleet: %s\n", fleet.GPUsText(m.GPUs))
	}
	many := len(r.Clusters()) > 1
	fmt.Fprintln(tw, "\n"+clusterCol(many, "CLUSTER")+"SUBJECT\tSTATE\tSEVERITY\tCONFIDENCE\tGPU-H AT STAKE\tSINCE\tWHAT TO DO")
	for _, g := range groups {
		f := g.Finding
		subj := string(f.Subject.Level) + " " + model.TerminalSafe(g.Subject)
		if g.Count > 1 {
			subj += fmt.Sprintf(" (%d pods)", g.Count)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%.2f\t%.1f\t%s\t%s\n", clusterCol(many, f.Subject.Cluster), subj, f.State, f.Severity, f.Confidence, g.GPUHours, f.Since.UTC().Format("15:04"), model.TerminalSafe(f.Action))
	}
	noun := "subjects"
	if healthy == 1 {
		noun = "subject"
	}
	fmt.Fprintf(tw, "\n%d healthy %s hidden\n", healthy, noun)
	writeCapacity(tw, r.Capacity, many)
	return tw.Flush()
}

// clusterCol is a table's leading cluster cell (name, "-" when none), or
// nothing when the fleet is one cluster.
func clusterCol(many bool, name string) string {
	if !many {
		return ""
	}
	if name == "" {
		name = "-"
	}
	return model.TerminalSafe(name) + "\t"
}

// WriteUtilisation prints the utilisation report: the fleet model's GPU
// counts, GPU-hours and money (the same as cost's for the window and price
// book), the busy distribution and the capacity advice.
func WriteUtilisation(w io.Writer, r *diagnose.Report) error {
	u := r.Utilisation
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "fleet utilisation at %s over %s\n\n", r.At.UTC().Format(time.RFC3339), r.Window)
	if m := u.Fleet; m != nil {
		fmt.Fprintf(tw, "physical GPUs\t%s\n", fleet.GPUsText(m.GPUs))
		fmt.Fprintf(tw, "GPU-equivalents\t%.2f\n", m.GPUs.GPUEquivalents)
	}
	fmt.Fprintf(tw, "busy\t%.1f%%\n", u.MeanBusy*100)
	fmt.Fprintf(tw, "GPUs below %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[0]*100, u.BelowLowMean*100, u.BelowLowPeak*100)
	fmt.Fprintf(tw, "GPUs above %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[1]*100, u.AboveHighMean*100, u.AboveHighPeak*100)
	if m := u.Fleet; m != nil {
		fmt.Fprintln(tw, "\nQUANTITY\tGPU-HOURS\tMONEY")
		for _, q := range []struct {
			word  string
			hours float64
			money cost.Micros
		}{
			{"allocatable", m.Hours.Allocatable, m.Money.Allocatable}, {"reserved", m.Hours.Reserved, m.Money.Reserved},
			{"allocated", m.Hours.Allocated, m.Money.Allocated}, {"used", m.Hours.Used, m.Money.Used},
			{"idle", m.Hours.Idle, m.Money.Idle}, {"unused", m.Hours.Unused, m.Money.Unused},
		} {
			money := "unpriced"
			if m.Currency != "" {
				money = q.money.Format(m.Currency)
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%s\n", q.word, q.hours, money)
		}
		if m.Currency != "" {
			fmt.Fprintf(tw, "10 more points of busy would save\t\t%s\n", m.SavingsPer10Points.Format(m.Currency))
		}
		if m.UnpricedGPUHours > 0 {
			fmt.Fprintf(tw, "unpriced allocated GPU-hours\t%.1f\t%s\n", m.UnpricedGPUHours, strings.Join(m.Unpriced, "; "))
		}
	}
	writeCapacity(tw, r.Capacity, len(r.Clusters()) > 1)
	return tw.Flush()
}

// writeCapacity is the capacity advice per model and kind of GPU (and
// cluster, when there are several).
func writeCapacity(tw io.Writer, cs []diagnose.Capacity, many bool) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintln(tw, "\n"+clusterCol(many, "CLUSTER")+"MODEL\tGPU\tHELD\tMEAN BUSY\tPEAK DEMAND\tCHANGE\tADVICE")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s%s\t%s\t%d\t%.0f%%\t%.1f\t%s\t%s\n", clusterCol(many, c.Cluster), model.TerminalSafe(c.Model), c.Kind(), c.Held, c.MeanBusy*100, c.PeakDemand, change(c.Delta), c.Advice)
	}
}

// change renders a capacity delta: +N, −N or none.
func change(delta int) string {
	switch {
	case delta > 0:
		return "+" + strconv.Itoa(delta)
	case delta < 0:
		return strconv.Itoa(delta)
	}
	return "none"
}

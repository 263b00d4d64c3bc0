package cli

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
)

// WriteDiagnosis writes `servescope diagnose`'s tables: the findings that
// call for something (most specific first, as the report orders them),
// how many pods are healthy, then the capacity advice per model and kind
// of GPU, so the advice is read in the table, not only in the JSON.
func WriteDiagnosis(w io.Writer, r *diagnose.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "diagnosis at %s over %s: %d pods, %d findings\n\n", r.At.UTC().Format(time.RFC3339), r.Window, len(r.Pods), len(r.Findings))
	fmt.Fprintln(tw, "SUBJECT\tSTATE\tSEVERITY\tCONFIDENCE\tSINCE\tWHAT TO DO")
	for _, f := range r.Findings {
		if f.State == diagnose.StateHealthy {
			continue
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%.2f\t%s\t%s\n", f.Subject.Level, f.Subject, f.State, f.Severity, f.Confidence, f.Since.UTC().Format("15:04"), f.Action)
	}
	healthy := 0
	for _, p := range r.Pods {
		if p.Primary == diagnose.StateHealthy {
			healthy++
		}
	}
	fmt.Fprintf(tw, "\n%d of %d pods healthy\n", healthy, len(r.Pods))
	if len(r.Capacity) > 0 {
		fmt.Fprintln(tw, "\nMODEL\tGPU\tHELD\tMEAN BUSY\tPEAK DEMAND\tCHANGE\tADVICE")
		for _, c := range r.Capacity {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f%%\t%.1f\t%s\t%s\n", c.Model, c.Kind(), c.Held, c.MeanBusy*100, c.PeakDemand, change(c.Delta), c.Advice)
		}
	}
	return tw.Flush()
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

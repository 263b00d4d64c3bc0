package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/schema"
)

// diagnoseCommands are `diagnose` (why the GPUs are not used, and what to
// do), `report fleet` (the default of `report`: the self-contained report,
// report.go), `report utilisation` (the utilisation table) and
// `alert-rules` (the alerting rules for an external Prometheus). The
// reports and the diagnosis read a running servescope, or any
// Prometheus-compatible API, through the Querier.
func diagnoseCommands(a *kingpin.Application, e env) []command {
	type common struct {
		server   string
		since    time.Duration
		at       string
		recorded bool
	}
	flags := func(c *kingpin.CmdClause, o *common, since string) {
		c.Flag("server", "URL of a running servescope or any Prometheus-compatible API.").Default("http://127.0.0.1:9464").StringVar(&o.server)
		c.Flag("since", "Window to diagnose, ending at --at.").Default(since).SetValue(durationValue{&o.since})
		c.Flag("at", "End of the window (RFC 3339); default now.").StringVar(&o.at)
		c.Flag("recorded", "Read servescope's recorded series (the backend evaluates the catalog's rules).").BoolVar(&o.recorded)
	}
	diag := a.Command("diagnose", "Say why GPUs are not used and what to do: findings per pod, GPU, model and fleet.")
	var dOpts common
	var output string
	flags(diag, &dOpts, "1h")
	diag.Flag("output", "Output format.").Default("table").EnumVar(&output, "table", "json")

	rep := a.Command("report", "Reports over the fleet: the self-contained fleet report (the default) and utilisation.")
	fleet := reportFleetCommand(rep, e)
	util := rep.Command("utilisation", "Fleet utilisation: busy distribution, idle GPU-hours and their cost, capacity per model.")
	var uOpts common
	var prices string
	flags(util, &uOpts, "24h")
	util.Flag("prices", "Price book (YAML: currency, gpus: [{model_name, hourly}]), e.g. examples/scenarios/prices.yml.").StringVar(&prices)

	rul := a.Command("alert-rules", "Write servescope's alerting rules (a Prometheus rules file) to stdout.")
	var interval time.Duration
	rul.Flag("interval", "Evaluation interval of the rule group.").Default("30s").SetValue(durationValue{&interval})

	run := func(ctx context.Context, o common, prices diagnose.Prices) (*diagnose.Report, *diagnose.Diagnoser, error) {
		at := time.Now()
		if o.at != "" {
			var err error
			if at, err = time.Parse(time.RFC3339, o.at); err != nil {
				return nil, nil, fmt.Errorf("--at %q: %w", o.at, err)
			}
		}
		cat, err := schema.New(schema.Options{})
		if err != nil {
			return nil, nil, err
		}
		q, err := query.NewRemote(o.server)
		if err != nil {
			return nil, nil, err
		}
		d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Recorded: o.recorded, Prices: prices})
		if err != nil {
			return nil, nil, err
		}
		r, err := d.Diagnose(ctx, at, o.since)
		if err != nil {
			return nil, nil, fmt.Errorf("diagnose %s: %w", o.server, err)
		}
		return r, d, nil
	}
	return []command{
		fleet,
		{clause: diag, run: func(ctx context.Context) error {
			r, _, err := run(ctx, dOpts, nil)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return cli.WriteDiagnosis(e.stdout, r)
		}},
		{clause: util, run: func(ctx context.Context) error {
			var book diagnose.Prices
			currency := ""
			if prices != "" {
				var err error
				if book, currency, err = loadPrices(prices); err != nil {
					return err
				}
			}
			r, _, err := run(ctx, uOpts, book)
			if err != nil {
				return err
			}
			return writeUtilisation(e.stdout, r, book, currency)
		}},
		{clause: rul, run: func(context.Context) error {
			cat, err := schema.New(schema.Options{})
			if err != nil {
				return err
			}
			b, err := diagnose.AlertRulesFile(cat, diagnose.DefaultThresholds(), interval)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		}},
	}
}

func writeUtilisation(w io.Writer, r *diagnose.Report, prices diagnose.Prices, currency string) error {
	u := r.Utilisation
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "fleet utilisation at %s over %s\n\n", r.At.UTC().Format(time.RFC3339), r.Window)
	fmt.Fprintf(tw, "GPUs\t%d\n", u.GPUs)
	fmt.Fprintf(tw, "mean busy\t%.1f%%\n", u.MeanBusy*100)
	fmt.Fprintf(tw, "GPUs below %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[0]*100, u.BelowLowMean*100, u.BelowLowPeak*100)
	fmt.Fprintf(tw, "GPUs above %.0f%% busy\tmean %.0f%%\tat peak %.0f%%\n", u.Bands[1]*100, u.AboveHighMean*100, u.AboveHighPeak*100)
	fmt.Fprintf(tw, "GPU-hours\t%.1f\tidle %.1f\tunallocated %.1f\n", u.GPUHours, u.IdleGPUHours, u.UnallocatedGPUHours)
	if prices != nil {
		fmt.Fprintf(tw, "cost\t%s\tidle %s\n", money(u.Cost, currency), money(u.IdleCost, currency))
		fmt.Fprintf(tw, "10 more points of busy would save\t%s\n", money(u.SavingsPer10Points, currency))
		if u.UnpricedGPUHours > 0 {
			fmt.Fprintf(tw, "unpriced GPU-hours\t%.1f\n", u.UnpricedGPUHours)
		}
	}
	fmt.Fprintln(tw, "\nMODEL\tHELD\tPEAK DEMAND\tMEAN BUSY\tNEEDED\tADVICE")
	for _, c := range r.Capacity {
		fmt.Fprintf(tw, "%s on %s\t%d\t%.1f\t%.0f%%\t%d\t%s\n", c.Model, c.Kind(), c.Held, c.PeakDemand, c.MeanBusy*100, c.Needed, c.Advice)
	}
	return tw.Flush()
}

func money(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, currency)
}

// loadPrices reads a price book: hourly prices per GPU model as decimal
// strings, kept in minor units (cents) so no float rounding accumulates.
func loadPrices(path string) (diagnose.Prices, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("prices: %w", err)
	}
	var doc struct {
		Currency string `yaml:"currency"`
		GPUs     []struct {
			GPU       string `yaml:"gpu"`
			ModelName string `yaml:"model_name"`
			Hourly    string `yaml:"hourly"`
		} `yaml:"gpus"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, "", fmt.Errorf("prices %s: %w", path, err)
	}
	out := diagnose.Prices{}
	for _, g := range doc.GPUs {
		c, err := cents(g.Hourly)
		if err != nil {
			return nil, "", fmt.Errorf("prices %s: gpu %s: %w", path, g.GPU, err)
		}
		out[g.ModelName] = c
	}
	return out, doc.Currency, nil
}

// cents parses a decimal amount with at most two fraction digits.
func cents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, errors.New("amount " + strconv.Quote(s) + " has more than two decimals")
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	f, err := strconv.ParseUint(frac, 10, 8)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q: not a non-negative decimal", s)
	}
	return w*100 + int64(f), nil
}

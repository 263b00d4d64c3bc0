package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/web"
)

// ReportOptions configure `servescope report`.
type ReportOptions struct {
	// Server is the URL of a running servescope or any Prometheus-compatible
	// API.
	Server string
	// Window is the span reported on, ending at At.
	Window time.Duration
	// At is the end of the window; zero means now.
	At time.Time
	// Format is web.FormatHTML or web.FormatMarkdown.
	Format string
	// Recorded reads servescope's recorded series (the backend evaluates
	// the catalog's rules).
	Recorded bool
	// Cost names the team label, the price book and the queue → team map.
	Cost CostOptions
	// AllowPartial writes a report some of whose panels failed, under a
	// visible "partial" banner; without it the report fails instead.
	AllowPartial bool
	// Thresholds of the diagnosis; the zero value means the defaults.
	Thresholds diagnose.Thresholds
	Logger     *slog.Logger
}

// WriteReport writes the self-contained fleet report (HTML or Markdown)
// over the window to w, reading o.Server: utilisation, findings, actions
// and capacity, cost per team, and the serving and GPU plots.
func WriteReport(ctx context.Context, w io.Writer, o ReportOptions) error {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	q, err := query.NewRemote(o.Server)
	if err != nil {
		return err
	}
	co := o.Cost
	co.Logger = logger
	calc, cat, pb, err := newCost(co)
	if err != nil {
		return err
	}
	th := o.Thresholds
	if th == (diagnose.Thresholds{}) {
		th = diagnose.DefaultThresholds()
	}
	d, err := diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Recorded: o.Recorded, Thresholds: th, Logger: logger})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	rd := &reportDiagnosis{d: d, th: th, prices: pb}
	h, err := web.New(web.Options{
		Querier: q, Catalog: cat, Recorded: o.Recorded, Logger: logger,
		Findings: rd, Fleet: rd, Costs: teamCosts{calc: calc, q: q},
		Regions: web.Regions{IdleBusy: th.IdleBusy, BoundBusy: th.MemoryBoundBusy, BoundDRAM: th.MemoryBoundDRAM},
		Now:     func() time.Time { return at },
	})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return h.Report(ctx, w, web.ReportOptions{Window: o.Window, End: at, Format: o.Format, Source: redact(o.Server), AllowPartial: o.AllowPartial})
}

// redact hides a password in the server URL the report names.
func redact(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// reportDiagnosis runs the diagnosis once per window and serves both the
// report's findings and its utilisation summary, priced per GPU model from
// the price book.
type reportDiagnosis struct {
	d      *diagnose.Diagnoser
	th     diagnose.Thresholds
	prices *cost.PriceBook

	mu     sync.Mutex
	now    time.Time
	window time.Duration
	rep    *diagnose.Report
	err    error
}

func (r *reportDiagnosis) diagnose(ctx context.Context, now time.Time, window time.Duration) (*diagnose.Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if (r.rep != nil || r.err != nil) && r.now.Equal(now) && r.window == window {
		return r.rep, r.err
	}
	r.now, r.window = now, window
	r.rep, r.err = nil, nil
	s, err := r.d.Snapshot(ctx, now, window)
	if err != nil {
		r.err = err
		return nil, err
	}
	r.rep = diagnose.Analyze(s, r.th)
	if r.prices != nil {
		r.rep.Utilisation = diagnose.Price(s, r.rep.Utilisation, r.gpuPrices(s))
	}
	return r.rep, nil
}

// gpuPrices prices each GPU model in the snapshot as the price book
// matches it (model name or short GPU name), in cents.
func (r *reportDiagnosis) gpuPrices(s *diagnose.Snapshot) diagnose.Prices {
	out := diagnose.Prices{}
	for _, g := range s.GPUs {
		if _, done := out[g.ModelName]; done || g.ModelName == "" {
			continue
		}
		if p, ok := r.prices.Lookup("", g.ModelName); ok {
			out[g.ModelName] = (int64(p) + 5000) / 10000 // micro-units to cents, rounded
		}
	}
	return out
}

func (r *reportDiagnosis) Findings(ctx context.Context, now time.Time, window time.Duration) ([]web.Finding, error) {
	rep, err := r.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	return webFindings(rep), nil
}

func (r *reportDiagnosis) Fleet(ctx context.Context, now time.Time, window time.Duration) (*web.FleetSummary, error) {
	rep, err := r.diagnose(ctx, now, window)
	if err != nil {
		return nil, err
	}
	u := rep.Utilisation
	f := &web.FleetSummary{GPUs: u.GPUs, MeanBusy: u.MeanBusy, LowBusy: u.Bands[0], HighBusy: u.Bands[1],
		BelowLow: u.BelowLowMean, AboveHigh: u.AboveHighMean, GPUHours: u.GPUHours, UnusedGPUHours: u.IdleGPUHours,
		UnallocatedGPUHours: u.UnallocatedGPUHours}
	if r.prices != nil {
		f.UnpricedGPUHours = u.UnpricedGPUHours
		if u.Cost > 0 || u.UnpricedGPUHours < u.GPUHours {
			f.Cost, f.UnusedCost = cents(u.Cost, r.prices.Currency), cents(u.IdleCost, r.prices.Currency)
			f.SavingsPer10Points = cents(u.SavingsPer10Points, r.prices.Currency)
		}
	}
	for _, c := range rep.Capacity {
		f.Capacity = append(f.Capacity, web.Capacity{Model: c.Model, GPU: c.Kind(), Held: c.Held, PeakDemand: c.PeakDemand, MeanBusy: c.MeanBusy,
			Needed: c.Needed, Saturated: c.Saturated, Advice: c.Advice})
	}
	return f, nil
}

// cents formats an amount in minor units with its currency.
func cents(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, currency)
}

package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/collect/scrape"
	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

// CostOptions configure cost attribution, for `serve` and `servescope cost`.
type CostOptions struct {
	// TeamLabel is the pod and namespace label key naming the team.
	TeamLabel string
	// ClusterLabel is the external label naming each series' cluster
	// (servescope.yml's cluster_label; default cluster).
	ClusterLabel string
	// PriceBook is the path of the price book; "" leaves every hour unpriced.
	PriceBook string
	// QueueTeams maps ClusterQueues to teams.
	QueueTeams map[string]string
	// TenantTeams maps gateway tenants (fairness_id) to teams; the
	// diagnosis's gateway queues carry the team.
	TenantTeams map[string]string
	// CarbonIntensity is g CO2e per kWh (0: no emissions shown).
	CarbonIntensity float64
	// ReferencePrices are the config's reference prices per million
	// input and output tokens, by served model.
	ReferencePrices []config.ReferencePrice
	// LentQuotaIsIdle keeps lent Kueue quota in the lender's idle quota
	// (servescope.yml's lent_quota_is_idle).
	LentQuotaIsIdle bool
	// Catalog, when set, is the signal catalog built with TeamLabel and
	// ClusterLabel, used instead of building another (a server start
	// builds one for the config check, the cost and the analysis).
	Catalog *schema.Catalog
	Logger  *slog.Logger
}

// NewCostCalculator loads the price book and builds the calculator.
func NewCostCalculator(opts CostOptions) (*cost.Calculator, error) {
	calc, _, _, err := newCost(opts)
	return calc, err
}

// newCost builds the calculator and returns the catalog and price book
// it uses (nil without a price book), for callers that read them too.
func newCost(opts CostOptions) (*cost.Calculator, *schema.Catalog, *cost.PriceBook, error) {
	cat := opts.Catalog
	if cat == nil {
		var err error
		if cat, err = schema.New(schema.Options{TeamLabel: opts.TeamLabel, ClusterLabel: opts.ClusterLabel}); err != nil {
			return nil, nil, nil, fmt.Errorf("signal catalog: %w", err)
		}
	}
	var pb *cost.PriceBook
	if opts.PriceBook != "" {
		var err error
		if pb, err = cost.LoadPriceBook(opts.PriceBook); err != nil {
			return nil, nil, nil, err
		}
	}
	refs, err := referencePrices(opts.ReferencePrices)
	if err != nil {
		return nil, nil, nil, err
	}
	calc, err := cost.New(cost.Options{Catalog: cat, Prices: pb, TeamLabel: opts.TeamLabel, ClusterLabel: opts.ClusterLabel, QueueTeams: opts.QueueTeams,
		CarbonIntensity: opts.CarbonIntensity, ReferencePrices: refs, LentQuotaIsIdle: opts.LentQuotaIsIdle, Logger: opts.Logger})
	return calc, cat, pb, err
}

// CostReport computes a report against any Prometheus-compatible API at
// url (servescope, Prometheus, Thanos, Mimir).
func CostReport(ctx context.Context, url string, opts CostOptions, req cost.Request) (*cost.Report, error) {
	calc, err := NewCostCalculator(opts)
	if err != nil {
		return nil, err
	}
	q, err := query.NewRemote(url)
	if err != nil {
		return nil, err
	}
	return calc.Compute(ctx, q, req)
}

// analysisReads are what the scraper stores (and what
// servescope.keep_metrics adds): the __name__ matchers of every raw series
// servescope's analysis reads, the catalog's selectors and the cost
// queries'; the histograms of which they read only the sum and count
// (stored without buckets); and the names they read only for some values
// of a label (stored with those values only).
func analysisReads(cat *schema.Catalog, teamKey string) ([]*labels.Matcher, []string, []scrape.ValueKeep, error) {
	qs, err := cost.Queries(cat, teamKey)
	if err != nil {
		return nil, nil, nil, err
	}
	costReads, err := schema.ReadsOf(qs...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("series cost reads: %w", err)
	}
	sumCount, err := cat.SumCountOnly(qs...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("histograms read by sum and count: %w", err)
	}
	vrs, err := cat.ValueReads(qs...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("label values read: %w", err)
	}
	vks := make([]scrape.ValueKeep, len(vrs))
	for i, vr := range vrs {
		vks[i] = scrape.ValueKeep{Name: vr.Name, Label: vr.Label, Matchers: vr.Matchers}
	}
	return append(cat.Reads(), costReads...), sumCount, vks, nil
}

package app

import (
	"fmt"
	"time"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/schema"
)

// NewDiagnoser builds a diagnosis over q whose utilisation report carries
// the fleet model, priced with co's price book, for `diagnose` and
// `report utilisation`, at thresholds th (the zero value: the defaults).
func NewDiagnoser(q query.Querier, recorded bool, co CostOptions, th diagnose.Thresholds) (*diagnose.Diagnoser, error) {
	calc, cat, _, err := newCost(co)
	if err != nil {
		return nil, err
	}
	fc, err := newFleet(cat, calc, recorded, th.Health)
	if err != nil {
		return nil, err
	}
	return diagnose.New(diagnose.Options{Querier: q, Catalog: cat, Recorded: recorded, Thresholds: th, Fleet: fc, ClusterLabel: cat.ClusterLabel(),
		TenantTeams: co.TenantTeams, Logger: co.Logger})
}

// AlertsBuiltin names the generated alerting rules among the rule sets.
const AlertsBuiltin = "alerts"

// EnableDiagnosis builds the diagnosis over the embedded engine and the
// catalog, serves it at /api/v1/diagnoses, and returns the generated
// alerting rules (evaluated every interval) for the rule manager, to be
// applied with the catalog's rules:
//
//	s.rules.ApplyConfig(files, catalogRules, alerts)
//
// The diagnosis reads the full catalog queries, not the recorded series, so
// it also works on backfilled history the rules never evaluated.
func (s *Server) EnableDiagnosis(th diagnose.Thresholds, objectives slo.Set, interval time.Duration) (rules.Builtin, error) {
	d, err := diagnose.New(diagnose.Options{Querier: s.querier, Catalog: s.catalog, Thresholds: th, Fleet: s.fleet, Objectives: objectives, ClusterLabel: s.catalog.ClusterLabel(),
		TenantTeams: s.tenantTeams, Logger: s.logger})
	if err != nil {
		return rules.Builtin{}, err
	}
	groups, err := diagnose.AlertRules(s.catalog, d.Thresholds(), interval)
	if err != nil {
		return rules.Builtin{}, fmt.Errorf("diagnosis: %w", err)
	}
	s.api.Handle("/api/v1/diagnoses", s.api.Diagnoses(d))
	s.api.Handle("/api/v1/queues", s.api.Queues(d))
	return rules.Builtin{Name: AlertsBuiltin, Groups: groups}, nil
}

// NewFleetCalculator builds the fleet model's calculator (cost attribution
// with co's price book, and the catalog), for the summary and tests.
func NewFleetCalculator(co CostOptions, recorded bool) (*fleet.Calculator, *schema.Catalog, error) {
	calc, cat, _, err := newCost(co)
	if err != nil {
		return nil, nil, err
	}
	fc, err := newFleet(cat, calc, recorded, diagnose.DefaultThresholds().Health)
	return fc, cat, err
}

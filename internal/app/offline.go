package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/slo"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/schema"
)

// The offline commands' wiring (`diagnose`, `report utilisation`,
// `alert-rules`, `signals`): each reads a server's API or the catalog, and
// present/cli prints.

// Catalog is the signal catalog with the settings' team and cluster labels.
func Catalog(s Settings) (*schema.Catalog, error) {
	return schema.New(schema.Options{TeamLabel: s.TeamLabel, ClusterLabel: s.ClusterLabel})
}

// AlertRules is servescope's alerting rules file for an external
// Prometheus, evaluated every interval (`servescope alert-rules`), at the
// settings' thresholds.
func AlertRules(s Settings, interval time.Duration) ([]byte, error) {
	th := s.Thresholds
	cat, err := Catalog(s)
	if err != nil {
		return nil, err
	}
	return diagnose.AlertRulesFile(cat, th, interval)
}

// remote reads the API at url (servescope or any Prometheus-compatible
// one), only the series of cluster name when one is given: the value of
// co's cluster label.
func remote(url string, co CostOptions, name string) (query.Querier, error) {
	q, err := query.NewRemote(url)
	if err != nil {
		return nil, err
	}
	return cluster.Scope(q, co.ClusterLabel, name), nil
}

// DiagnoseOptions configure `servescope diagnose` and `report utilisation`.
type DiagnoseOptions struct {
	// Cluster, if set, diagnoses that cluster only (its cluster label's
	// value); otherwise every cluster.
	Cluster string
	// Server is the URL of a running servescope or any
	// Prometheus-compatible API.
	Server string
	// Since is the window diagnosed, ending at At (zero: now).
	Since time.Duration
	At    time.Time
	// Recorded reads servescope's recorded series.
	Recorded bool
	// Cost names the team label, the price book (cost's, strict,
	// micro-units) and the queue → team map.
	Cost CostOptions
	// Thresholds of the diagnosis; the zero value means the defaults.
	Thresholds diagnose.Thresholds
	// Objectives are the latency objectives whose budgets the report
	// shows (a finding per model burning one fast).
	Objectives slo.Set
}

// Diagnose reads o.Server and diagnoses the window.
func Diagnose(ctx context.Context, o DiagnoseOptions) (*diagnose.Report, error) {
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	q, err := remote(o.Server, o.Cost, o.Cluster)
	if err != nil {
		return nil, err
	}
	d, err := NewDiagnoser(q, o.Recorded, o.Cost, o.Thresholds)
	if err != nil {
		return nil, err
	}
	r, err := d.WithObjectives(o.Objectives).Diagnose(ctx, at, o.Since)
	if err != nil {
		return nil, fmt.Errorf("diagnose %s: %w", o.Server, err)
	}
	return r, nil
}

// coverageQuery says whether the store had data at a step: any scrape.
const coverageQuery = `count(up)`

// coverage is the span of [start, end] in which the server has data, read
// at about 240 steps; ok is false when it has none.
func coverage(ctx context.Context, q query.Querier, start, end time.Time) (from, to time.Time, ok bool, err error) {
	step := max(end.Sub(start)/240, 15*time.Second)
	res, err := q.QueryRange(ctx, coverageQuery, query.Range{Start: start, End: end, Step: step})
	if err != nil {
		return time.Time{}, time.Time{}, false, fmt.Errorf("coverage: %w", err)
	}
	m, _ := res.Value.(model.Matrix)
	for _, s := range m {
		for _, p := range s.Values {
			t := p.Timestamp.Time().UTC()
			if !ok || t.Before(from) {
				from = t
			}
			if !ok || t.After(to) {
				to = t
			}
			ok = true
		}
	}
	return from, to, ok, nil
}

// WarnCoverage writes a warning, as `cost` does, when the data of the
// server at url covers less of the window [at-window, at] than all of it
// (a step of slack).
func WarnCoverage(ctx context.Context, w io.Writer, url string, at time.Time, window time.Duration) error {
	q, err := query.NewRemote(url)
	if err != nil {
		return err
	}
	from, to, ok, err := coverage(ctx, q, at.Add(-window), at)
	if err != nil {
		return err
	}
	cli.WriteCoverageWarning(w, at, window, cli.Coverage{From: from, To: to, OK: ok})
	return nil
}

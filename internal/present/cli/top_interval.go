package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/analyze/query"
)

// ErrNoScrapeInterval says the server did not tell its scrape interval
// (Thanos, Mimir and other query-only APIs serve neither endpoint).
var ErrNoScrapeInterval = errors.New("the server tells no scrape interval")

// ScrapeInterval asks a servescope or Prometheus how often it scrapes: the
// shortest scrape interval of its active targets (/api/v1/targets), else
// the global scrape_interval of its configuration (/api/v1/status/config).
// It returns ErrNoScrapeInterval when neither answers with one.
func ScrapeInterval(ctx context.Context, server query.Status) (time.Duration, error) {
	var errs []error
	targets, err := server.Targets(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	var shortest time.Duration
	for _, t := range targets {
		if d := t.ScrapeInterval; d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest > 0 {
		return shortest, nil
	}
	config, err := server.ConfigYAML(ctx)
	if err != nil {
		errs = append(errs, err)
	} else {
		var doc struct {
			Global struct {
				ScrapeInterval string `yaml:"scrape_interval"`
			} `yaml:"global"`
		}
		if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
			errs = append(errs, fmt.Errorf("config: %w", err))
		} else if d, err := model.ParseDuration(doc.Global.ScrapeInterval); err == nil && d > 0 {
			return time.Duration(d), nil
		}
	}
	return 0, errors.Join(append([]error{ErrNoScrapeInterval}, errs...)...)
}

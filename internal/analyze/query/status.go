package query

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Status is what a Prometheus-compatible server tells about its own
// scraping, beyond queries: its active targets and its configuration.
// Query-only APIs (Thanos, Mimir) may serve neither.
type Status interface {
	// Targets lists the active scrape targets.
	Targets(ctx context.Context) ([]Target, error)
	// ConfigYAML returns the loaded configuration file as YAML.
	ConfigYAML(ctx context.Context) (string, error)
}

// Target is an active scrape target as /api/v1/targets reports it.
type Target struct {
	Labels    model.LabelSet
	ScrapeURL string
	Health    string
	// ScrapeInterval is 0 when the server does not tell it (Prometheus
	// before 2.43, or a target not yet scraped).
	ScrapeInterval time.Duration
	// SeriesScraped and SeriesKept are the series of the target's last
	// scrape as sent and as stored; nil when the server does not tell
	// them (only servescope does).
	SeriesScraped, SeriesKept *int
}

var _ Status = (*Remote)(nil)

// activeTarget is one entry of the targets API: client_golang's
// v1.ActiveTarget plus the scrape interval that Prometheus 2.43+ and
// servescope add and v1.ActiveTarget lacks, and servescope's series
// counts.
type activeTarget struct {
	v1.ActiveTarget
	ScrapeInterval string `json:"scrapeInterval"`
	SeriesScraped  *int   `json:"seriesScraped"`
	SeriesKept     *int   `json:"seriesKept"`
}

// Targets implements Status: GET /api/v1/targets?state=active through
// client_golang's client (v1.API.Targets drops the scrape interval).
func (r *Remote) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []activeTarget `json:"activeTargets"`
	}
	if err := r.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(data.ActiveTargets))
	for _, t := range data.ActiveTargets {
		var d model.Duration
		if t.ScrapeInterval != "" {
			var err error
			if d, err = model.ParseDuration(t.ScrapeInterval); err != nil {
				return nil, r.classify(fmt.Errorf("target %s: scrape interval: %w", t.ScrapeURL, err))
			}
		}
		out = append(out, Target{Labels: t.Labels, ScrapeURL: t.ScrapeURL, Health: string(t.Health), ScrapeInterval: time.Duration(d),
			SeriesScraped: t.SeriesScraped, SeriesKept: t.SeriesKept})
	}
	return out, nil
}

// ConfigYAML implements Status with v1.API.Config.
func (r *Remote) ConfigYAML(ctx context.Context) (string, error) {
	c, err := r.api.Config(ctx)
	if err != nil {
		err = r.classify(err)
		return "", &Error{Type: TypeOf(err), Err: fmt.Errorf("%s: %w", EndpointConfig, err)}
	}
	return c.YAML, nil
}

// get calls an API endpoint through the client and decodes the data of a
// success into out.
func (r *Remote) get(ctx context.Context, path string, q url.Values, out any) error {
	env, err := r.call(ctx, path, q)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &Error{Type: ErrUnavailable, Err: fmt.Errorf("%s: decode the query backend's data: %w", path, err)}
	}
	return nil
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// ErrNoScrapeInterval says the server did not tell its scrape interval
// (Thanos, Mimir and other query-only APIs serve neither endpoint).
var ErrNoScrapeInterval = errors.New("the server tells no scrape interval")

// ScrapeInterval asks a servescope or Prometheus how often it scrapes: the
// shortest scrapeInterval of its active targets (/api/v1/targets), else
// the global scrape_interval of its configuration (/api/v1/status/config).
// It returns ErrNoScrapeInterval when neither answers with one.
func ScrapeInterval(ctx context.Context, client *http.Client, server string) (time.Duration, error) {
	var targets struct {
		ActiveTargets []struct {
			ScrapeInterval string `json:"scrapeInterval"`
		} `json:"activeTargets"`
	}
	var errs []error
	if err := getAPI(ctx, client, server, "/api/v1/targets?state=active", &targets); err != nil {
		errs = append(errs, err)
	}
	var shortest time.Duration
	for _, t := range targets.ActiveTargets {
		d, err := model.ParseDuration(t.ScrapeInterval)
		if err != nil || d <= 0 {
			continue // an API without the field, or a target not yet scraped
		}
		if shortest == 0 || time.Duration(d) < shortest {
			shortest = time.Duration(d)
		}
	}
	if shortest > 0 {
		return shortest, nil
	}
	var config struct {
		YAML string `json:"yaml"`
	}
	if err := getAPI(ctx, client, server, "/api/v1/status/config", &config); err != nil {
		errs = append(errs, err)
	} else {
		var doc struct {
			Global struct {
				ScrapeInterval string `yaml:"scrape_interval"`
			} `yaml:"global"`
		}
		if err := yaml.Unmarshal([]byte(config.YAML), &doc); err != nil {
			errs = append(errs, fmt.Errorf("%s config: %w", server, err))
		} else if d, err := model.ParseDuration(doc.Global.ScrapeInterval); err == nil && d > 0 {
			return time.Duration(d), nil
		}
	}
	return 0, errors.Join(append([]error{ErrNoScrapeInterval}, errs...)...)
}

// getAPI GETs a Prometheus API path and decodes the data of a success.
func getAPI(ctx context.Context, client *http.Client, server, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", server, path, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", server, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", server, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s", server, path, resp.Status)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s%s: %w", server, path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s%s: status %q", server, path, env.Status)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("GET %s%s: %w", server, path, err)
	}
	return nil
}

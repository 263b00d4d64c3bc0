package tsdb

import (
	"errors"
	"fmt"

	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/storage/remote"
)

// ApplyConfig applies the config's remote_write section and
// global.external_labels to remote write: queues are added, changed or
// removed as Prometheus does on a reload, each resuming from the WAL.
func (d *DB) ApplyConfig(cfg *promconfig.Config) error {
	if len(cfg.RemoteWriteConfigs) > 0 && !d.scrape.set() {
		return errors.New("remote write: no scrape manager for its metadata (SetScrapeManager)")
	}
	if err := d.remote.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("remote_write: %w", err)
	}
	return nil
}

// SetScrapeManager hands remote write the scrape manager whose targets'
// metadata it sends (metadata_config). Call it once, before the first
// ApplyConfig with a remote_write section.
func (d *DB) SetScrapeManager(sm remote.ReadyScrapeManager) { d.scrape.ReadyScrapeManager = sm }

// scrapeRef is the scrape manager given after Open: the store opens before
// the scrape manager (which appends to it) exists, and remote write is
// built with the store.
type scrapeRef struct {
	remote.ReadyScrapeManager
}

func (r *scrapeRef) set() bool { return r.ReadyScrapeManager != nil }

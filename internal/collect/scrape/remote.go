package scrape

import pscrape "github.com/prometheus/prometheus/scrape"

// Get is Prometheus's scrape manager, whose targets' metadata remote write
// sends (storage/remote's ReadyScrapeManager, given to the store).
func (m *Manager) Get() (*pscrape.Manager, error) { return m.scrape, nil }

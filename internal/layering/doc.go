// Package layering holds only a test: the import rules ARCHITECTURE.md
// states, checked over every package of the module with `go list`, tests
// included. Imports point down the layers; the heavy dependencies
// (Prometheus's TSDB, PromQL engine, rule manager, scrape, discovery and
// notifier, client-go, client_golang's API client) are imported only by
// their adapter packages; only app and cmd link the simulator, and only the
// simcheck tests compare with its truth.
package layering

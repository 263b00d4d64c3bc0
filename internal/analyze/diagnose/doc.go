// Package diagnose says why a GPU is not used and what to do about it. It
// reads signals from the catalog (internal/schema) through the Querier
// seam only, builds a Snapshot of every engine pod and GPU over a window,
// and runs detectors, pure functions from a Snapshot to Findings: idle,
// host-bound, memory-bandwidth-bound, KV-cache saturation, backlog, TTFT
// regression, poor speculative decoding, a missing layer (exporter down)
// and XID errors. Findings roll up per GPU, model and fleet; the fleet
// utilisation report and per-model capacity advice are computed from the
// same Snapshot. It also generates the alerting rules (KVCacheHigh and the
// rest) as data, for the embedded rule manager or an external Prometheus.
//
// Thresholds live in a Thresholds struct with defaults (DefaultThresholds)
// and are checked by Thresholds.Validate. Nothing here reads the wall clock:
// callers pass the evaluation time.
//
// It imports analyze/query (for the Querier interface and its result
// types), schema and Prometheus's rulefmt and parser; it must not import
// the simulator, collect, store or present packages.
package diagnose

// Package gen generates the Kubernetes observability stack around servescope:
// Grafana dashboards, Prometheus rules (plain and as a PrometheusRule),
// ServiceMonitors and PodMonitors, the pod-annotation patches, plain
// prometheus.yml scrape configs, Helm values for dcgm-exporter,
// kube-state-metrics and Kueue, and per-team Kueue queues from a teams file.
//
// Every generator is a pure function from its inputs (the signal catalog,
// optional alerting rule groups, a teams file, Options) to Files, a map of
// relative path to content. Output is deterministic: map keys are sorted,
// nothing depends on the clock or the environment, so running it twice gives
// byte-identical files. Queries come from the catalog (internal/schema) as
// syntax trees or strings it produced; gen never assembles PromQL from text.
//
// gen does no I/O (the caller writes Files) and imports schema and the API
// types of Kubernetes, prometheus-operator and Kueue; it must not import
// collect, store, analyze or the simulator.
package gen

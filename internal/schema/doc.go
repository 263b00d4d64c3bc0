// Package schema owns the signal catalog: the canonical signals servescope
// reasons about (requests, KV cache, token rates, latency histograms, GPU
// activity, Kueue queues and quota, namespace → team), kept as data.
//
// Each Signal records its unit, kind, level (pod, gpu, queue, namespace,
// team), how it aggregates across data-parallel engine series, an optional
// valid range, and an ordered list of Sources: one PromQL expression per
// exporter and version (vLLM V0/V1/current, SGLang, TGI, llama.cpp,
// dcgm-exporter 1.x and current, Kueue ClusterQueue and LocalQueue metrics,
// kube-state-metrics). The catalog compiles the sources into one query per
// signal in which the first available source wins per subject (`or` plus
// `unless on(<key>)`), so no series is counted twice.
//
// Label aliases (pod/exported_pod/pod_name, namespace/exported_namespace/
// pod_namespace, UUID/uuid, Hostname/hostname, ...) are resolved in one place,
// Aliases, by wrapping every selector in label_replace calls; series of HA
// followers (replica_role="follower") are dropped by a matcher added to every
// selector; `_created` series are never selected and are ignored when
// recognising targets.
//
// Queries are built as PromQL syntax trees, never with string formatting, and
// every compiled query is parsed by Prometheus's parser when the catalog is
// constructed: a bad query is an error from New.
//
// From the catalog come the recording rules (servescope:<signal>:<aggregation>),
// the topology join (GPU → pod → namespace → team, pod → LocalQueue →
// ClusterQueue), the range checks, `servescope signals`/`explain`, target
// recognition and docs/signals.md.
//
// schema does no I/O and must not import collect, store, analyze or present
// packages.
package schema

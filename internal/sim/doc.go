// Package sim is a simulated LLM serving cluster with ground truth: vLLM
// (V1, V0-era names), SGLang and llama.cpp engines on GPUs, dcgm-exporter,
// Kueue and kube-state-metrics, driven by an analytic continuous-batching
// model stepped in explicit simulated time.
//
// It owns scenario loading (strict YAML, errors with file:line), the engine
// and GPU physics (a roofline per engine step, aggregated per tick), the Kueue
// admission model, the rendering of every target's exposition (client_model
// families reused from scrape to scrape, written byte for byte as a
// client_golang registry and expfmt's encoder would: render_test.go holds
// them together), the file_sd target list, the HTTP server, and the ground
// truth (diagnosis state per pod per minute, GPU-hours per team, demand per
// deployment).
//
// Only internal/app, cmd and test-only packages (schema/simcheck) import
// it; analysis packages never do, so the truth cannot leak into what it
// grades. It imports client_model, prometheus/common, a YAML decoder
// (go.yaml.in/yaml/v3) and the standard library only; its tests also use
// client_golang and Prometheus's model/textparse.
//
// The main calls: ParseScenario or LoadScenario, NewCluster, Cluster.Step
// to advance simulated time, Cluster.Targets and Cluster.RenderBytes to
// scrape, Cluster.Truth for the ground truth, NewServer to serve it all.
//
// Race detector: the per-tick physics (engines, gateways, histograms, Kueue
// admission, the minute's truth) and the exposition writer are marked
// //go:norace. They run on one goroutine at a time, inside Cluster.Step and
// Cluster.RenderBytes, which hold the cluster's mutex; the detector made
// them five times slower and every simulated hour of every test paid it.
// The entry points, the lock, the server and the render cache stay
// instrumented, so concurrent use of a Cluster is still checked
// (TestServer*, TestServerScrapeCache).
package sim

// Package e2e checks servescope's deployable artefacts against a real
// Kubernetes API server (`make e2e`, scripts/e2e.sh): the chart installed
// with Helm's Go SDK, and the output of `servescope generate` with the
// prometheus-operator and Kueue CRDs, all applied server-side with strict
// field validation. Its own module keeps Helm's action package and
// cli-runtime out of the main module.
package e2e

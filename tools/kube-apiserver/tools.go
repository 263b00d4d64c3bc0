//go:build tools

// Package tools pins kube-apiserver's command for `make e2e`: built from
// k8s.io/kubernetes in this module of its own so the main module's
// Kubernetes libraries (v0.37) are not pulled back to v0.34.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

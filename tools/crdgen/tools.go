//go:build tools

// Package tools pins what `make e2e` generates prometheus-operator's CRDs
// with: controller-gen over the monitoring/v1 types at the version the main
// module uses (the operator's own CRD files are not in a Go module).
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)

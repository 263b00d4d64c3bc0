//go:build tools

// Package tools pins Thanos's command for `make e2e` (scripts/e2e-thanos.sh):
// built from github.com/thanos-io/thanos in this module of its own, with
// Thanos's replace directives, so the main module's Prometheus libraries are
// not moved. Build it with -tags slicelabels: receive panics on the first
// remote-write without it.
package tools

import _ "github.com/thanos-io/thanos/pkg/receive"

// Package scenarios embeds the shipped simulator scenarios, the YAML files
// of this directory, so that `servescope sim` works from any directory. The
// files here are the one source: internal/sim reads them through FS, users
// read and copy them here. prices.yml is the example price book, not a
// scenario.
package scenarios

import "embed"

// FS holds every *.yml of this directory.
//
//go:embed *.yml
var FS embed.FS

// PriceBook is the example price book's file name in FS; every other file
// is a scenario.
const PriceBook = "prices.yml"

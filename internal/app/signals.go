package app

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/schema"
)

// WriteUnmatched lists the targets of the server at url (servescope or any
// Prometheus-compatible API) whose exporter cat does not recognise, for
// `servescope signals --unmatched`; it gives up after 30 seconds.
func WriteUnmatched(ctx context.Context, w io.Writer, url string, cat *schema.Catalog) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	remote, err := query.NewRemote(strings.TrimRight(url, "/"))
	if err != nil {
		return err
	}
	return cli.WriteUnmatched(ctx, w, cat, remote, remote, time.Now())
}

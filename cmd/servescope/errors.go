package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/servescope/servescope/internal/analyze/query"
)

// actionable turns an error a person cannot act on into one line saying
// what failed and what to do: a server that does not answer becomes its
// address and the question whether servescope runs there, instead of the
// underlying dial error repeated once per query (and the other queries'
// "context canceled").
func actionable(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	server := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		server = u.Scheme + "://" + u.Host
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach %s (connection refused): is servescope running? Start it with `servescope serve` (or `make demo`), or pass --server URL", server)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach %s (no such host %s): check --server", server, dnsErr.Name)
	case ue.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s did not answer in time: is servescope running there and not overloaded? Try a shorter window or check --server", server)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Errorf("cannot reach %s (%v): is servescope running? Check --server", server, ue.Err)
	}
	return err
}

// quiet reports whether an error is only the echo of the user's own
// interrupt, which needs no message.
func quiet(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, context.Canceled)
}

// reachable asks server one constant query, so a command that would make
// many (a report's panels) fails once, with the actionable error, when the
// server does not answer.
func reachable(ctx context.Context, server string) error {
	q, err := query.NewRemote(server)
	if err != nil {
		return err
	}
	if _, err := q.Query(ctx, "vector(1)", time.Now()); err != nil {
		return actionable(err)
	}
	return nil
}

// isTerminal reports whether w is a terminal (progress bars redraw in
// place there; elsewhere they write a line per tenth).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

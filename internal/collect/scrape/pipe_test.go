package scrape

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	config_util "github.com/prometheus/common/config"
)

// scrapeClient builds a client as Prometheus's scrape pool does
// (prometheus/common, the job's proxy_url, the manager's options).
func scrapeClient(t *testing.T, proxy *config_util.URL, opts ...config_util.HTTPClientOption) *http.Client {
	t.Helper()
	cfg := config_util.DefaultHTTPClientConfig
	if proxy != nil {
		cfg.ProxyURL = *proxy
	}
	c, err := config_util.NewClientFromConfig(cfg, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPipeKeepAlive: a client built as the scrape manager's reaches the
// proxy in memory, and its scrapes of a target reuse one proxy connection
// and one connection to the target as they would a TCP connection.
func TestPipeKeepAlive(t *testing.T) {
	p := newFilterProxy(slog.New(slog.DiscardHandler))
	go p.serve()
	t.Cleanup(func() { _ = p.close() })
	keep := testKeep(t)
	p.setJobs(map[string]*jobFilter{"j": {keep: newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) })}}, keep.Regex.String())
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "a 1\nunread_total 2\n")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	c := scrapeClient(t, &config_util.URL{URL: p.proxyURL("j")}, p.dialOption())
	for range 5 {
		if got := get(t, c, srv.URL+"/metrics"); got != "a 1\n" {
			t.Fatalf("through the pipe: %q", got)
		}
	}
	if p.dials.Load() != 1 || conns.Load() != 1 {
		t.Errorf("5 scrapes: %d proxy connections, %d to the target; want 1 and 1", p.dials.Load(), conns.Load())
	}
	// A client without the dial function does not reach the proxy's
	// address (a reserved name no resolver answers).
	if _, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", pipeAddr); err == nil {
		t.Errorf("%s resolved", pipeAddr)
	}
	// After close, dials fail.
	_ = p.close()
	if _, err := p.dialContext(context.Background(), "tcp", pipeAddr); err == nil {
		t.Error("dialled a closed proxy")
	}
}

// TestDialOptionUnixSocket: the dial option leaves a client that has a
// dial function of its own (Prometheus's per-socket client of a target
// labelled __unix_socket__) dialling its socket, and dials other
// addresses by TCP.
func TestDialOptionUnixSocket(t *testing.T) {
	p := newFilterProxy(slog.New(slog.DiscardHandler))
	go p.serve()
	t.Cleanup(func() { _ = p.close() })
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	unix := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "unix") })}
	go func() { _ = unix.Serve(ln) }()
	t.Cleanup(func() { _ = unix.Close() })
	tcp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "tcp") }))
	t.Cleanup(tcp.Close)

	// As newUnixSocketScrapeClient builds it: its dial first, then the
	// manager's options.
	socketDial := config_util.WithDialContextFunc(func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	})
	if got := get(t, scrapeClient(t, nil, socketDial, p.dialOption()), tcp.URL+"/metrics"); got != "unix" {
		t.Errorf("the socket's client reached %q", got)
	}
	if got := get(t, scrapeClient(t, nil, p.dialOption()), tcp.URL+"/metrics"); got != "tcp" {
		t.Errorf("a plain client reached %q", got)
	}
}

package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rawTarget is a TCP target that answers each request it reads with the
// bytes of answer (given the request's index on its connection); it
// closes the connection when answer says so. It counts its connections.
type rawTarget struct {
	addr  string
	conns atomic.Int64
}

func serveRaw(t testing.TB, answer func(n int) (resp []byte, closeAfter bool)) *rawTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &rawTarget{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rt.conns.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					resp, closeAfter := answer(n)
					if _, err := c.Write(resp); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return rt
}

// proxyClient is a client of the filter proxy as a job.
func proxyClient(p *filterProxy, job string) *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(p.proxyURL(job)), DisableCompression: true, DialContext: p.dialContext}}
}

func newTestProxy(t testing.TB) *filterProxy {
	t.Helper()
	p := newFilterProxy(slog.New(slog.DiscardHandler))
	go p.serve()
	t.Cleanup(func() { _ = p.close() })
	keep := testKeep(t)
	p.setJobs(map[string]*jobFilter{"j": {keep: newNameDecisions(func(n string) bool { return keepsName(keep.Regex, n) }), limit: 1 << 20}}, keep.Regex.String())
	return p
}

func fetch(t testing.TB, c *http.Client, u string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err // the response too when its body broke off
}

func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

// TestConnFraming: whatever framing the target answers with (a length,
// chunks, gzip in chunks, the connection's close), the client reads the
// filtered body with a Content-Length and no Content-Encoding, the target
// connection is reused when the target keeps it, and a body passed through
// without a length ends with the proxy connection.
func TestConnFraming(t *testing.T) {
	const body = "a 1\nunread_total 2\n"
	chunked := func(s string) string {
		return "Transfer-Encoding: chunked\r\n\r\n" + strings.Join([]string{hexLen(s[:3]), s[:3], hexLen(s[3:]), s[3:], "0", "", ""}, "\r\n")
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
	for _, tc := range []struct {
		name       string
		resp       string
		closeAfter bool
		want       string
		wantLength int64
		targetConn int64 // connections to the target for 3 scrapes
	}{
		{"length", head + "Content-Length: 19\r\n\r\n" + body, false, "a 1\n", 4, 1},
		{"chunked", head + chunked(body), false, "a 1\n", 4, 1},
		{"gzip chunked", head + "Content-Encoding: gzip\r\n" + chunked(gzipped(body)), false, "a 1\n", 4, 1},
		{"close", head + "\r\n" + body, true, "a 1\n", 4, 3},
		{"keep-alive refused", head + "Connection: close\r\nContent-Length: 19\r\n\r\n" + body, true, "a 1\n", 4, 3},
		{"protobuf without length", "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.google.protobuf\r\n\r\n" + body, true, body, -1, 3},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", false, "nope", 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProxy(t)
			rt := serveRaw(t, func(int) ([]byte, bool) { return []byte(tc.resp), tc.closeAfter })
			c := proxyClient(p, "j")
			for range 3 {
				resp, got, err := fetch(t, c, "http://"+rt.addr+"/metrics")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tc.want || resp.ContentLength != tc.wantLength || resp.Header.Get("Content-Encoding") != "" {
					t.Fatalf("%q (length %d, encoding %q), want %q (length %d)", got, resp.ContentLength, resp.Header.Get("Content-Encoding"), tc.want, tc.wantLength)
				}
			}
			if n := rt.conns.Load(); n != tc.targetConn {
				t.Errorf("3 scrapes: %d connections to the target, want %d", n, tc.targetConn)
			}
			if tc.wantLength >= 0 && p.dials.Load() != 1 {
				t.Errorf("3 scrapes: %d proxy connections, want 1", p.dials.Load())
			}
		})
	}
}

func hexLen(s string) string {
	const digits = "0123456789abcdef"
	n := len(s)
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 16 {
		b = append([]byte{digits[n%16]}, b...)
	}
	return string(b)
}

// TestConnStaleTarget: a kept target connection the target closed while
// idle is retried once on a new one, and the scrape succeeds.
func TestConnStaleTarget(t *testing.T) {
	p := newTestProxy(t)
	// The target answers one request per connection but claims to keep it.
	rt := serveRaw(t, func(int) ([]byte, bool) {
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\na 1\n"), true
	})
	c := proxyClient(p, "j")
	for i := range 3 {
		if _, got, err := fetch(t, c, "http://"+rt.addr+"/metrics"); err != nil || string(got) != "a 1\n" {
			t.Fatalf("scrape %d: %q %v", i, got, err)
		}
	}
	if rt.conns.Load() < 3 {
		t.Errorf("%d connections to the target", rt.conns.Load())
	}
}

// TestConnClose: closing the client's connection (a scrape's context
// ending) closes the target connection it waits on.
func TestConnClose(t *testing.T) {
	p := newTestProxy(t)
	ctx := t.Context()
	rt := serveRaw(t, func(int) ([]byte, bool) {
		<-ctx.Done()
		return nil, true
	})
	conn, err := p.dialContext(t.Context(), "tcp", pipeAddr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET http://"+rt.addr+"/metrics HTTP/1.1\r\nHost: "+rt.addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 10))
		done <- err
	}()
	_ = conn.Close()
	if err := <-done; err == nil {
		t.Error("a read of a closed connection returned no error")
	}
	if _, err := conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

// FuzzConn: whatever bytes a target answers, the proxy does not panic,
// and the client either reads the target's response (unchanged in content
// for a job not filtered) or fails with an error naming the target.
func FuzzConn(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\na 1\nunread_total 2\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na 1\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n\r\n" + gzipped("a 1\nb 2\n"),
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\na 1\n",
		"HTTP/1.1 500 Oops\r\n\r\nerr",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nunread_total 1\n",
		"garbage",
		"",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	p := newTestProxy(f)
	var answer atomic.Pointer[[]byte]
	rt := serveRaw(f, func(int) ([]byte, bool) { return *answer.Load(), true })
	u := "http://" + rt.addr + "/metrics"
	f.Fuzz(func(t *testing.T, raw []byte, filtered bool) {
		answer.Store(&raw)
		job := "other"
		if filtered {
			job = "j"
		}
		c := proxyClient(p, job)
		defer c.CloseIdleConnections()
		resp, got, err := fetch(t, c, u)
		if err != nil && resp == nil {
			if !strings.Contains(err.Error(), rt.addr) {
				t.Errorf("error without the target: %v", err)
			}
			return
		}
		if _, ferr, _ := p.last(u); filtered && ferr != nil && !strings.Contains(ferr.Error(), rt.addr) {
			t.Errorf("the target's error without the target: %v", ferr)
		}
		if resp.StatusCode == http.StatusBadGateway && err == nil {
			return // the proxy's answer, or the target's
		}
		// What Go's client reads from the same bytes: a body that breaks
		// off breaks off through the proxy too (a filtered one is read
		// whole first, and a 502 says why).
		want, werr := readResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: http.MethodGet})
		if werr != nil {
			t.Fatalf("the proxy answered %s %q to bytes Go's client cannot read (%v)", resp.Status, got, werr)
		}
		wantBody, berr := io.ReadAll(want.Body)
		if (berr != nil) != (err != nil) {
			t.Fatalf("through the proxy %q (%v), direct %q (%v)", got, err, wantBody, berr)
		}
		if filtered {
			return
		}
		if want.StatusCode != resp.StatusCode || !bytes.Equal(wantBody, got) {
			t.Errorf("passed through as %d %q, want %d %q", resp.StatusCode, got, want.StatusCode, wantBody)
		}
	})
}

// TestConnScrapeTimeout: a target that does not answer within the
// scrape's timeout (Prometheus's X-Prometheus-Scrape-Timeout-Seconds)
// fails the scrape with the deadline, named as the target's error.
func TestConnScrapeTimeout(t *testing.T) {
	p := newTestProxy(t)
	ctx := t.Context()
	rt := serveRaw(t, func(int) ([]byte, bool) {
		<-ctx.Done()
		return nil, true
	})
	c := proxyClient(p, "j")
	u := "http://" + rt.addr + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "0.05")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_, ferr, _ := p.last(u)
	if resp.StatusCode != http.StatusBadGateway || ferr == nil || !strings.Contains(ferr.Error(), "deadline exceeded") || !strings.Contains(ferr.Error(), rt.addr) {
		t.Errorf("%s, target error %v; want 502 and the deadline", resp.Status, ferr)
	}
}

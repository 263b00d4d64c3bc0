package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exchange answers the request head a filterConn's client wrote: it sets
// the connection's response (conn.go).
func (p *filterProxy) exchange(c *filterConn, head []byte) {
	if c.hr == nil {
		c.hr = bufio.NewReaderSize(&c.hb, 4<<10)
	}
	c.hb.Reset(head)
	c.hr.Reset(&c.hb)
	req, err := http.ReadRequest(c.hr)
	switch {
	case err != nil:
		c.resp = errorResponse(http.StatusBadRequest, "servescope scrape filter: "+err.Error(), true)
		return
	case req.ContentLength != 0 || len(req.TransferEncoding) > 0:
		c.resp = errorResponse(http.StatusNotImplemented, "servescope scrape filter: a request with a body", true)
		return
	case req.Method == http.MethodConnect:
		p.connect(c, req)
		return
	case !req.URL.IsAbs() || req.URL.Scheme != "http":
		c.resp = errorResponse(http.StatusBadRequest, "servescope scrape filter: not a proxy request", false)
		return
	}
	ctx := c.ctx
	var deadline time.Time
	if s, err := strconv.ParseFloat(req.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && s > 0 {
		deadline = time.Now().Add(time.Duration(s * float64(time.Second)))
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	// The job and the URL as the client asked, before the round trip
	// drops the proxy's headers.
	job, target := proxyJob(req), req.URL.String()
	jf, filtered := p.filters(job)
	var st *targetState
	if filtered {
		st = p.state(target)
		st.mu.Lock()
		defer st.mu.Unlock()
	}
	resp, up, err := p.roundTrip(ctx, c, req, deadline)
	if err != nil {
		if st != nil {
			p.record(st, 0, err)
		}
		c.resp = errorResponse(http.StatusBadGateway, err.Error(), false)
		return
	}
	enc := resp.Header.Get("Content-Encoding")
	if !filtered || resp.StatusCode != http.StatusOK || !st.textFormat(resp.Header.Get("Content-Type")) || (enc != "" && enc != "gzip" && enc != "identity") {
		if st != nil {
			p.record(st, 0, nil)
		}
		c.passThrough(req, resp, resp.Body, up)
		return
	}
	body := io.Reader(resp.Body)
	if enc == "gzip" {
		g := gunzips.Get().(*gunzip)
		g.br.Reset(resp.Body)
		defer func() {
			g.br.Reset(nil)
			gunzips.Put(g)
		}()
		if magic, err := g.br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
			// Not gzip: Prometheus fails it with its own error.
			p.record(st, 0, nil)
			peeked, _ := g.br.Peek(g.br.Buffered())
			c.passThrough(req, resp, io.MultiReader(bytes.NewReader(bytes.Clone(peeked)), resp.Body), up)
			return
		}
		if g.gz == nil {
			g.gz, err = gzip.NewReader(g.br)
		} else {
			err = g.gz.Reset(g.br)
		}
		if err != nil {
			c.fail(st, req, up, err)
			return
		}
		body = g.gz
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	st.filter.names, st.filter.nhcb, st.filter.classic = jf.keep, jf.nhcb, jf.classic
	stats, err := st.filter.copy(buf, body, jf.limit)
	var pad int64
	reusable := false
	switch {
	case errors.Is(err, errOverLimit):
		// Prometheus reads limit bytes and fails the scrape itself.
		pad = jf.limit - stats.Out
	case err != nil:
		buf.Reset()
		bodyPool.Put(buf)
		c.fail(st, req, up, err)
		return
	default:
		// The rest of the target's body (a gzip trailer, the last chunk)
		// is read for its connection to serve the next scrape.
		_, derr := io.CopyN(io.Discard, resp.Body, 64<<10)
		reusable = errors.Is(derr, io.EOF) && !resp.Close
	}
	p.record(st, stats.Samples, nil)
	if err == nil && jf.nhcb {
		p.skips.observe(job, target, stats.Histograms)
	}
	c.finishUpstream(up, reusable)
	h := resp.Header
	dropHop(h)
	h.Del("Content-Encoding")
	h["Content-Length"] = []string{strconv.FormatInt(int64(buf.Len())+pad, 10)}
	c.headBuf = responseHead(c.headBuf, resp.Status, h)
	c.resp = response{head: c.headBuf, body: buf, pad: pad, on: true}
}

// fail fails a scrape whose target's body could not be read: the target
// status shows err (a 502 to the client).
func (c *filterConn) fail(st *targetState, req *http.Request, up *upConn, err error) {
	err = urlError(req, err)
	c.p.record(st, 0, err)
	c.finishUpstream(up, false)
	c.resp = errorResponse(http.StatusBadGateway, err.Error(), false)
}

// finishUpstream ends the use of a target connection: back to the pool or
// closed.
func (c *filterConn) finishUpstream(up *upConn, reusable bool) {
	c.mu.Lock()
	if c.up == up {
		c.up = nil
	}
	c.mu.Unlock()
	if reusable {
		c.p.upstream.put(up)
	} else {
		_ = up.Close()
	}
}

// passThrough answers with the target's response unchanged, its body
// streamed; without a length the connection closes after it.
func (c *filterConn) passThrough(req *http.Request, resp *http.Response, body io.Reader, up *upConn) {
	h := resp.Header
	dropHop(h)
	last := false
	switch {
	case resp.Body == http.NoBody:
		body = nil
	case resp.ContentLength >= 0:
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	default:
		h["Connection"] = []string{"close"}
		last = true
	}
	c.headBuf = responseHead(c.headBuf, resp.Status, h)
	c.resp = response{head: c.headBuf, strm: body, up: up, reuse: !resp.Close, on: true, last: last}
	if body == nil {
		c.resp.strm, c.resp.up = nil, nil
		c.finishUpstream(up, !resp.Close && req.Method != http.MethodHead)
	}
}

// roundTrip sends req in origin form to its target over a pooled or new
// connection and reads the response head. A pooled connection that fails
// before answering (the target closed it while idle) is retried once on a
// new one, as Go's transport retries an idempotent request.
func (p *filterProxy) roundTrip(ctx context.Context, c *filterConn, req *http.Request, deadline time.Time) (*http.Response, *upConn, error) {
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	dropHop(req.Header)
	out := c.out[:0]
	out = append(out, req.Method...)
	out = append(out, ' ')
	out = append(out, req.URL.RequestURI()...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, req.Host...)
	out = append(out, "\r\n"...)
	c.hb.Reset(nil)
	w := bytes.NewBuffer(out)
	_ = req.Header.Write(w)
	w.WriteString("\r\n")
	out = w.Bytes()
	c.out = out
	for attempt := 0; ; attempt++ {
		up, reused := p.upstream.get(addr), true
		if up == nil {
			var err error
			if up, err = p.upstream.dial(ctx, addr); err != nil {
				return nil, nil, urlError(req, err)
			}
			reused = false
		}
		if !c.use(up) {
			_ = up.Close()
			return nil, nil, urlError(req, net.ErrClosed)
		}
		rd, wd := c.deadlines()
		_ = up.SetReadDeadline(earliest(deadline, rd))
		_ = up.SetWriteDeadline(earliest(deadline, wd))
		_, err := up.Write(out)
		var resp *http.Response
		if err == nil {
			resp, err = readResponse(up.br, req)
		}
		if err == nil {
			return resp, up, nil
		}
		c.finishUpstream(up, false)
		if !reused || attempt > 0 || ctx.Err() != nil {
			if isTimeout(err) {
				// The scrape's timeout, said as Go's client says it.
				err = context.DeadlineExceeded
			}
			return nil, nil, urlError(req, err)
		}
	}
}

// readResponse reads the final response to req, skipping informational
// (1xx) ones as Go's client does; a protocol switch is not a scrape.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("the target switched protocols")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		}
		return resp, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// earliest is the earlier of two deadlines, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// urlError says err as Go's client does: the method and the target's URL.
func urlError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return err
	}
	op := req.Method[:1] + strings.ToLower(req.Method[1:])
	return &url.Error{Op: op, URL: req.URL.String(), Err: err}
}

// connect answers a CONNECT (an https target) with a tunnel to the
// target, unfiltered.
func (p *filterProxy) connect(c *filterConn, req *http.Request) {
	up, err := defaultDial(c.ctx, "tcp", req.Host)
	if err != nil {
		c.resp = errorResponse(http.StatusBadGateway, err.Error(), false)
		return
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.tunnel = up
	}
	c.mu.Unlock()
	if closed {
		_ = up.Close()
		return
	}
	c.resp = response{head: []byte("HTTP/1.1 200 Connection established\r\n\r\n"), on: true}
}

// hopHeaders are not forwarded (RFC 9110 section 7.6.1) and the proxy's own.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func dropHop(h http.Header) {
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// responseHead writes a response's status line and header into buf.
func responseHead(buf []byte, status string, h http.Header) []byte {
	w := bytes.NewBuffer(buf[:0])
	w.WriteString("HTTP/1.1 ")
	w.WriteString(status)
	w.WriteString("\r\n")
	_ = h.Write(w)
	w.WriteString("\r\n")
	return w.Bytes()
}

// errorResponse is the proxy's own answer; last closes the connection
// after it.
func errorResponse(code int, msg string, last bool) response {
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {strconv.Itoa(len(msg) + 1)}}
	if last {
		h["Connection"] = []string{"close"}
	}
	head := responseHead(nil, strconv.Itoa(code)+" "+http.StatusText(code), h)
	head = append(head, msg...)
	head = append(head, '\n')
	return response{head: head, on: true, last: last}
}

// upConn is a connection to a target and its reader.
type upConn struct {
	net.Conn
	br   *bufio.Reader
	addr string
	idle time.Time
}

// upstreamPool keeps the idle connections to the targets, as the
// transport of an HTTP client does.
type upstreamPool struct {
	mu     sync.Mutex
	idle   map[string][]*upConn
	swept  time.Time
	closed bool
}

const (
	// upIdleTimeout is how long an idle target connection is kept (as
	// prometheus/common's transport).
	upIdleTimeout = 5 * time.Minute
	// upIdlePerAddr is how many are kept per target address (as
	// prometheus/common's transport: targets behind one address, such as
	// the simulator's, each keep theirs).
	upIdlePerAddr = 1000
)

// get returns an idle connection to addr, nil when there is none.
func (u *upstreamPool) get(addr string) *upConn {
	u.mu.Lock()
	defer u.mu.Unlock()
	cs := u.idle[addr]
	for len(cs) > 0 {
		c := cs[len(cs)-1]
		cs = cs[:len(cs)-1]
		if time.Since(c.idle) < upIdleTimeout {
			u.idle[addr] = cs
			c.br = upReader(c.Conn)
			return c
		}
		_ = c.Close()
	}
	delete(u.idle, addr)
	return nil
}

// dial connects to addr as Prometheus's clients do.
func (u *upstreamPool) dial(ctx context.Context, addr string) (*upConn, error) {
	c, err := defaultDial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &upConn{Conn: c, br: upReader(c), addr: addr}, nil
}

// gunzip decodes a gzip body; gunzips lends them to the exchanges under
// way (a decoder holds ~40 KB: one per target would be megabytes for
// nothing between scrapes).
type gunzip struct {
	br *bufio.Reader
	gz *gzip.Reader
}

var gunzips = sync.Pool{New: func() any { return &gunzip{br: bufio.NewReaderSize(nil, 4<<10)} }}

// upReaders are the target connections' readers: a connection holds one
// only while an exchange is under way, so that hundreds of idle kept-alive
// connections do not hold a buffer each.
var upReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

func upReader(c net.Conn) *bufio.Reader {
	br := upReaders.Get().(*bufio.Reader)
	br.Reset(c)
	return br
}

// put keeps an idle connection.
func (u *upstreamPool) put(c *upConn) {
	_ = c.SetDeadline(time.Time{})
	if c.br != nil && c.br.Buffered() > 0 {
		_ = c.Close() // bytes past the response: not reusable
		return
	}
	if c.br != nil {
		c.br.Reset(nil)
		upReaders.Put(c.br)
		c.br = nil
	}
	now := time.Now()
	c.idle = now
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || len(u.idle[c.addr]) >= upIdlePerAddr {
		_ = c.Close()
		return
	}
	if u.idle == nil {
		u.idle = map[string][]*upConn{}
	}
	u.idle[c.addr] = append(u.idle[c.addr], c)
	if now.Sub(u.swept) > time.Minute {
		u.swept = now
		for addr, cs := range u.idle {
			kept := cs[:0]
			for _, c := range cs {
				if now.Sub(c.idle) < upIdleTimeout {
					kept = append(kept, c)
				} else {
					_ = c.Close()
				}
			}
			if len(kept) == 0 {
				delete(u.idle, addr)
			} else {
				u.idle[addr] = kept
			}
		}
	}
}

// close closes the idle connections and those put later.
func (u *upstreamPool) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	for _, cs := range u.idle {
		for _, c := range cs {
			_ = c.Close()
		}
	}
	clear(u.idle)
}

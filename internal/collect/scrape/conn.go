package scrape

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// The filter proxy has no HTTP server: the scrape clients' dial function
// returns, for the proxy's address, a filterConn, a net.Conn written in Go
// that answers the proxy-form request the client writes on it. The work is
// done in the client's own goroutines: Write only gathers the request, and
// the Read that waits for the response (the transport's read loop) parses
// it, forwards it in origin form over a kept-alive TCP connection to the
// target (upstream.go), reads the target's response, filters its body into
// a buffer and hands the client a response with a Content-Length. No
// goroutine per connection, no second HTTP client, no pipe.
//
// HTTP keep-alive works as over TCP: a client keeps its filterConn open
// between scrapes, and the connections to the targets are kept in a pool.

// pipeHost is the proxy's address in proxy_url: a name under the reserved
// .invalid domain (RFC 2606), which no resolver answers, so a client built
// without the dial function fails to connect instead of reaching anything.
const pipeHost = "servescope-scrape-filter.invalid"

// pipeAddr is the address the clients dial for pipeHost (the default port
// of an http proxy URL).
const pipeAddr = pipeHost + ":80"

// maxRequestBytes bounds a request's head (Go's server default, 1 MiB).
const maxRequestBytes = 1 << 20

// filterConn is the client's connection to the filter proxy.
type filterConn struct {
	p      *filterProxy
	ctx    context.Context // done when the connection closes
	cancel context.CancelFunc

	// ready holds a token once a whole request head has been written.
	ready chan struct{}

	mu  sync.Mutex
	req []byte // what the client wrote and the proxy has not read
	// up is the target connection of the exchange under way, closed with
	// the connection; tunnel is the target of a CONNECT once established.
	up     *upConn
	tunnel net.Conn
	closed bool
	rd, wd time.Time // the deadlines the client set

	// resp is the response being read; only Read touches it. The rest
	// are buffers of the exchange (upstream.go), reused from request to
	// request.
	resp    response
	hb      bytes.Reader
	hr      *bufio.Reader
	out     []byte
	headBuf []byte
}

// dial returns a new connection to the proxy, or an error once it closed.
func (p *filterProxy) dial() (net.Conn, error) {
	select {
	case <-p.done:
		return nil, fmt.Errorf("dial scrape filter: %w", net.ErrClosed)
	default:
	}
	p.dials.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	return &filterConn{p: p, ctx: ctx, cancel: cancel, ready: make(chan struct{}, 1)}, nil
}

// Write gathers the client's request; a CONNECT's established tunnel
// writes to the target.
func (c *filterConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if t := c.tunnel; t != nil {
		c.mu.Unlock()
		return t.Write(b)
	}
	if len(c.req)+len(b) > maxRequestBytes {
		c.mu.Unlock()
		return 0, errors.New("servescope scrape filter: request too large")
	}
	c.req = append(c.req, b...)
	// The head ends with an empty line (a scrape has no body).
	if bytes.Contains(c.req[max(len(c.req)-len(b)-3, 0):], []byte("\r\n\r\n")) {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	return len(b), nil
}

// Read returns the response to the request written; it waits for one, and
// makes the exchange with the target when it comes.
func (c *filterConn) Read(b []byte) (int, error) {
	for {
		if c.ctx.Err() != nil {
			return 0, net.ErrClosed
		}
		if c.resp.active() {
			n, err := c.resp.read(b)
			switch {
			case errors.Is(err, errResponseEnd):
				c.release()
				continue
			case err != nil:
				// The target's body broke off: so does the response.
				c.release()
				return n, err
			}
			return n, nil
		}
		if c.resp.last {
			return 0, io.EOF
		}
		c.mu.Lock()
		t := c.tunnel
		c.mu.Unlock()
		if t != nil {
			return t.Read(b)
		}
		if err := c.wait(); err != nil {
			return 0, err
		}
		c.mu.Lock()
		head := c.req
		c.req = nil
		c.mu.Unlock()
		c.p.exchange(c, head)
	}
}

// wait waits for a request, the connection's close or its read deadline.
func (c *filterConn) wait() error {
	c.mu.Lock()
	rd := c.rd
	c.mu.Unlock()
	var expired <-chan time.Time
	if !rd.IsZero() {
		t := time.NewTimer(time.Until(rd))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-c.ready:
		if c.ctx.Err() != nil {
			return net.ErrClosed
		}
		return nil
	case <-c.ctx.Done():
		return net.ErrClosed
	case <-expired:
		return os.ErrDeadlineExceeded
	}
}

// release gives back what the last response held: its buffer, and its
// target connection to the pool when the response was read to its end.
func (c *filterConn) release() {
	up, reusable := c.resp.finish()
	if up == nil {
		return
	}
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

// use makes up the connection's target connection (closed with it) and
// applies the client's deadlines; false when the connection is closed.
func (c *filterConn) use(up *upConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.up = up
	return true
}

// Close closes the connection and the target connection it uses.
func (c *filterConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	up, t := c.up, c.tunnel
	c.up = nil
	c.mu.Unlock()
	c.cancel()
	if up != nil {
		_ = up.Close()
	}
	if t != nil {
		_ = t.Close()
	}
	return nil
}

func (c *filterConn) LocalAddr() net.Addr  { return pipeAddrType{} }
func (c *filterConn) RemoteAddr() net.Addr { return pipeAddrType{} }

// SetDeadline sets both deadlines (see SetReadDeadline).
func (c *filterConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds the wait for a response and is passed to the
// target connection in use (the transports of Prometheus's scrapes set
// none: a scrape's timeout is its context, which closes the connection).
func (c *filterConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd = t
	up, tun := c.up, c.tunnel
	c.mu.Unlock()
	if tun != nil {
		return tun.SetReadDeadline(t)
	}
	if up != nil {
		return up.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline is passed to the target connection in use (writes to
// the proxy itself never block).
func (c *filterConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wd = t
	up, tun := c.up, c.tunnel
	c.mu.Unlock()
	if tun != nil {
		return tun.SetWriteDeadline(t)
	}
	if up != nil {
		return up.SetWriteDeadline(t)
	}
	return nil
}

// deadlines returns the client's deadlines.
func (c *filterConn) deadlines() (rd, wd time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rd, c.wd
}

type pipeAddrType struct{}

func (pipeAddrType) Network() string { return "pipe" }
func (pipeAddrType) String() string  { return pipeAddr }

// response is what a filterConn's client reads for one request: the head,
// then a body from a buffer (filtered, plus padding to reach a body size
// limit) or streamed from the target (passed through).
type response struct {
	head  []byte
	body  *bytes.Buffer // pooled; nil when streamed
	pad   int64
	strm  io.Reader // the target's body, passed through
	up    *upConn   // the target connection the body comes from
	reuse bool      // whether up is reusable once strm reads to its end
	done  bool      // strm read to its end
	// last says the connection ends after this response (a body passed
	// through without a length is delimited by the close).
	last bool
	on   bool
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (r *response) active() bool { return r.on }

func (r *response) read(b []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(b, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	if r.body != nil && r.body.Len() > 0 {
		return r.body.Read(b)
	}
	if r.pad > 0 {
		n := int(min(r.pad, int64(len(b))))
		for i := range n {
			b[i] = ' '
		}
		r.pad -= int64(n)
		return n, nil
	}
	if r.strm != nil {
		n, err := r.strm.Read(b)
		if errors.Is(err, io.EOF) {
			r.done = true
			if n > 0 {
				return n, nil
			}
			return 0, errResponseEnd
		}
		return n, err
	}
	return 0, errResponseEnd
}

// errResponseEnd is read's signal that the response was read (the client
// then waits for its next request's answer, or EOF after the last).
var errResponseEnd = errors.New("end of response")

// finish ends the response and returns its target connection, and
// whether it can serve another request.
func (r *response) finish() (*upConn, bool) {
	if r.body != nil {
		r.body.Reset()
		bodyPool.Put(r.body)
	}
	up, reuse := r.up, r.reuse && (r.strm == nil || r.done)
	last := r.last
	*r = response{last: last}
	return up, reuse
}

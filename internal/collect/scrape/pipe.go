package scrape

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"sync"

	config_util "github.com/prometheus/common/config"
)

// The filter proxy is served in memory: its listener hands out one end of
// a net.Pipe per connection the scrape clients dial to its address, so a
// scrape through it costs no loopback TCP (two sockets, syscalls on both
// sides, the kernel's copies): over TCP the hop cost nearly what filtering
// saved. The scrape manager's clients reach it through a dial function
// (dialOption) that returns the pipe for the proxy's address and dials
// every other address as Prometheus's clients do. HTTP keep-alive works as
// over TCP: a target's client keeps its pipe connection open between
// scrapes.

// pipeHost is the proxy's address in proxy_url: a name under the reserved
// .invalid domain (RFC 2606), which no resolver answers, so a client built
// without the dial function fails to connect instead of reaching anything.
const pipeHost = "servescope-scrape-filter.invalid"

// pipeAddr is the address the clients dial for pipeHost (the default port
// of an http proxy URL).
const pipeAddr = pipeHost + ":80"

// pipeListener is a net.Listener whose connections are net.Pipes made by
// dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next dial.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and dial; connections already made stay open (the
// server closes its own ends).
func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the proxy's address.
func (l *pipeListener) Addr() net.Addr { return pipeAddrType{} }

// dial returns the client's end of a new pipe once the server accepted its
// other end.
func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
		_ = client.Close()
		_ = server.Close()
		return nil, fmt.Errorf("dial scrape filter: %w", ctx.Err())
	}
	_ = client.Close()
	_ = server.Close()
	return nil, fmt.Errorf("dial scrape filter: %w", net.ErrClosed)
}

type pipeAddrType struct{}

func (pipeAddrType) Network() string { return "pipe" }
func (pipeAddrType) String() string  { return pipeAddr }

// defaultDial dials as Prometheus's clients do without a dial function
// (prometheus/common's NewRoundTripperFromConfig: go-conntrack's default, a
// zero net.Dialer: no timeout but the request's context, the default TCP
// keep-alive).
var defaultDial = (&net.Dialer{}).DialContext

// dialContext is the scrape clients' dial: the pipe for the proxy's
// address, anything else as the default.
func (p *filterProxy) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr == pipeAddr {
		return p.ln.dial(ctx)
	}
	return defaultDial(ctx, network, addr)
}

// dialOption is the scrape manager's HTTPClientOptions entry that makes
// its clients dial through dialContext.
//
// Prometheus builds a client per unix socket (a target labelled
// __unix_socket__) with its socket's dial function prepended to these
// options, and a later WithDialContextFunc would replace it: the socket's
// requests would go out over TCP. So the option sets the dial function only
// on a client that has none yet. prometheus/common exposes no way to read
// an option's state, so it is read by reflection: the option is a function
// of common's own option type (reflect.MakeFunc) that looks whether the
// options' dialContextFunc is still nil. Should a later version of common
// rename the field, the option sets the dial on every client as
// WithDialContextFunc does (the unix socket test then fails).
func (p *filterProxy) dialOption() config_util.HTTPClientOption {
	set := config_util.WithDialContextFunc(p.dialContext)
	fn := reflect.ValueOf(set)
	if fn.Kind() != reflect.Func || fn.Type().NumIn() != 1 || fn.Type().In(0).Kind() != reflect.Pointer || fn.Type().In(0).Elem().Kind() != reflect.Struct {
		return set
	}
	field, ok := fn.Type().In(0).Elem().FieldByName("dialContextFunc")
	if !ok || field.Type.Kind() != reflect.Func {
		return set
	}
	opt, ok := reflect.MakeFunc(fn.Type(), func(args []reflect.Value) []reflect.Value {
		if args[0].Elem().FieldByIndex(field.Index).IsNil() {
			fn.Call(args)
		}
		return nil
	}).Interface().(config_util.HTTPClientOption)
	if !ok {
		return set
	}
	return opt
}

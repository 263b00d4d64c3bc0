package scrape

import (
	"context"
	"net"
	"reflect"

	config_util "github.com/prometheus/common/config"
)

// The scrape manager's clients reach the filter proxy through a dial
// function (dialOption) that returns a filterConn (conn.go) for the
// proxy's address and dials every other address as Prometheus's clients
// do.

// defaultDial dials as Prometheus's clients do without a dial function
// (prometheus/common's NewRoundTripperFromConfig: go-conntrack's default, a
// zero net.Dialer: no timeout but the request's context, the default TCP
// keep-alive).
var defaultDial = (&net.Dialer{}).DialContext

// dialContext is the scrape clients' dial: a filterConn for the proxy's
// address, anything else as the default.
func (p *filterProxy) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr == pipeAddr {
		return p.dial()
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

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/servescope/servescope/internal/present/api"
)

// HTTP server timeouts. A client gets 10 s to send its headers and 30 s
// for the whole request (a body trickled byte by byte is cut off), a
// response may take the query timeout plus writeSlack, and an idle
// keep-alive connection is closed after idleTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeSlack        = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// listen binds the listener and serves from now on: the health endpoints
// answer while the store replays its WAL, the API once New stores it as
// the handler. TLS and basic auth come from the web config file, through
// Prometheus's exporter-toolkit, on every endpoint.
func (s *Server) listen() error {
	l, err := net.Listen("tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.listener = l
	starting := api.Starting()
	s.handler.Store(&starting)
	s.http = &http.Server{
		Handler: api.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*s.handler.Load()).ServeHTTP(w, r)
		})),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      s.opts.QueryTimeout + writeSlack,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.With("component", "web").Handler(), slog.LevelDebug),
	}
	s.served = make(chan error, 1)
	file := s.opts.WebConfigFile
	flags := &web.FlagConfig{WebListenAddresses: &[]string{s.opts.ListenAddress}, WebSystemdSocket: new(bool), WebConfigFile: &file}
	go func() {
		err := web.Serve(l, s.http, flags, s.logger.With("component", "web"))
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("serve HTTP on %s: %w", l.Addr(), err)
		}
		s.served <- err
	}()
	s.logger.Info("listening; /-/healthy answers now, /-/ready once the store is open", "address", l.Addr().String())
	return nil
}

// shutdownHTTP stops the server, letting requests in flight finish for a
// few seconds.
func (s *Server) shutdownHTTP() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.logger.Warn("HTTP shutdown", "err", err)
	}
}

// reloadMetrics are Prometheus's reload-status gauges under servescope's
// name.
type reloadMetrics struct {
	success   prometheus.Gauge
	timestamp prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) reloadMetrics {
	m := reloadMetrics{
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servescope_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "servescope_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(m.success, m.timestamp)
	return m
}

func (m reloadMetrics) succeeded(ok bool) {
	if !ok {
		m.success.Set(0)
		return
	}
	m.success.Set(1)
	m.timestamp.SetToCurrentTime()
}

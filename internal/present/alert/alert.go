// Package alert sends firing and resolved alerts to Alertmanager through
// its API v2, with Prometheus's notifier: the `alerting:` section of the
// config names the Alertmanagers (static or discovered), alerts queue and
// are retried, and the notifier's metrics (queue length, sent, errors,
// dropped) land on servescope's /metrics. An unreachable Alertmanager never
// blocks rule evaluation: Send only enqueues.
//
// It imports Prometheus's notifier and discovery packages and the config
// adapter; nothing from analysis.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/notifier"
	prules "github.com/prometheus/prometheus/rules"

	"github.com/servescope/servescope/internal/config"
)

// Options configure the sender.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the notifier's and its discovery's metrics; it
	// must not be nil.
	Registerer prometheus.Registerer
	// SDMetrics are the discovery mechanisms' metrics, shared with the
	// scrape discovery (they can be registered once only).
	SDMetrics *pdiscovery.SDMetrics
	// QueueCapacity bounds the alerts waiting to be sent (default 10,000).
	QueueCapacity int
}

// Manager sends alerts to the configured Alertmanagers.
type Manager struct {
	logger    *slog.Logger
	notifier  *notifier.Manager
	discovery *pdiscovery.Manager
	cancel    context.CancelFunc
}

// New builds the sender; nothing is sent until Run.
func New(opts Options) (*Manager, error) {
	if opts.Registerer == nil || opts.SDMetrics == nil {
		return nil, errors.New("alert: Registerer and SDMetrics are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	dm := pdiscovery.NewManager(ctx, logger.With("component", "discovery", "for", "alertmanagers"), opts.Registerer, opts.SDMetrics, pdiscovery.Name("notify"))
	if dm == nil {
		cancel()
		return nil, errors.New("alert: create discovery manager")
	}
	n := notifier.NewManager(&notifier.Options{QueueCapacity: opts.QueueCapacity, Registerer: opts.Registerer},
		model.UTF8Validation, logger.With("component", "notifier"))
	return &Manager{logger: logger, notifier: n, discovery: dm, cancel: cancel}, nil
}

// ApplyConfig applies the config's alerting section.
func (m *Manager) ApplyConfig(cfg *config.Config) error {
	if err := m.notifier.ApplyConfig(cfg.Prometheus); err != nil {
		return fmt.Errorf("alerting section of %s: %w", cfg.File, err)
	}
	sd := map[string]pdiscovery.Configs{}
	for k, v := range cfg.Prometheus.AlertingConfig.AlertmanagerConfigs.ToMap() {
		sd[k] = v.ServiceDiscoveryConfigs
	}
	if err := m.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("alertmanager discovery of %s: %w", cfg.File, err)
	}
	return nil
}

// Run sends until ctx ends, then drains what it can and stops.
func (m *Manager) Run(ctx context.Context) error {
	go func() {
		if err := m.discovery.Run(); err != nil {
			m.logger.Error("alertmanager discovery stopped", "err", err)
		}
	}()
	done := make(chan struct{})
	go func() {
		m.notifier.Run(m.discovery.SyncCh())
		close(done)
	}()
	<-ctx.Done()
	m.notifier.Stop()
	m.cancel()
	<-done
	return nil
}

// Notify is the rule manager's notify function: it hands firing and
// resolved alerts to the queue, linking each to externalURL.
func (m *Manager) Notify(externalURL string) func(ctx context.Context, expr string, alerts ...*prules.Alert) {
	return prules.SendAlerts(m.notifier, externalURL)
}

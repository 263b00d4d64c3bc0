// Package scrape collects samples: Prometheus's discovery and scrape
// managers behind one component with servescope's shape (Options, Run,
// ApplyConfig). It adds what servescope needs on top: Kubernetes pod
// discovery through the discovery package, counting metrics of its own, and
// target status with parse errors located by line (in the background, never
// while serving a status request) and every error cut to a readable length.
//
// It imports the store contracts, the config and discovery adapters and
// Prometheus's scrape and discovery packages; never analysis.
package scrape

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	config_util "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	pscrape "github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"

	"github.com/servescope/servescope/internal/collect/discovery"
	"github.com/servescope/servescope/internal/config"
)

// Options configure the collector.
type Options struct {
	Logger *slog.Logger
	// Registerer receives the scrape and discovery managers' metrics and
	// servescope's own. It must not be nil.
	Registerer prometheus.Registerer
	// Appendable is where scraped samples go.
	Appendable storage.AppendableV2
	// KubeClient builds Kubernetes clients for pod discovery; nil builds
	// them from each block's kubeconfig or the in-cluster account.
	KubeClient discovery.ClientFunc
	// SDMetrics are the discovery mechanisms' metrics; they can be
	// registered once per registry, so the caller shares them with other
	// discovery managers (Alertmanager discovery). Nil creates them.
	SDMetrics *pdiscovery.SDMetrics
	// Recognize names the exporter behind a target from its metric family
	// names, "" when servescope does not know it; nil recognises nothing.
	Recognize func(families []string) string
	// Reads are the __name__ matchers of every series the analysis reads
	// (the catalog's and cost's selectors): other series are dropped at
	// scrape time unless the config keeps them (servescope.keep_metrics,
	// keep_all_metrics). Nil stores everything.
	Reads []*labels.Matcher
	// SumCountOnly are the classic histograms (names without suffix) of
	// which the analysis reads only the sum and count: their _bucket
	// series are dropped with what Reads does not select.
	SumCountOnly []string
	// ValueKeeps are the names the analysis reads only for some values of
	// a label: their other series are dropped with what Reads does not
	// select (unless keep_metrics selects the name).
	ValueKeeps []ValueKeep
	// LocateEvery is how often new parse errors are located by line (one
	// fetch of the failing target per new error); zero means 5s.
	LocateEvery time.Duration
}

// Manager runs discovery and scraping.
type Manager struct {
	logger    *slog.Logger
	kube      discovery.ClientFunc
	recognize func(families []string) string
	reads     []*labels.Matcher
	sumCount  []string
	values    []ValueKeep
	counts    *countingAppendable
	discovery *pdiscovery.Manager
	scrape    *pscrape.Manager
	// cancel stops the discovery manager, which is bound to a context from
	// construction on.
	cancel context.CancelFunc
	errs   *errorLocator
	// filter drops the unread families' lines before they are parsed
	// (proxy.go).
	filter *filterProxy
	// locateEvery is how often Run locates new parse errors.
	locateEvery time.Duration

	// skips are the targets scraped without the NHCB converter
	// (nhcbskip.go), learnt by the filter proxy; sent are those the
	// scrape manager was last given as such, and retired the targets a
	// switch replaced, by skip key, until their successor's first scrape.
	skips     *nhcbSkip
	retiredMu sync.Mutex
	sent      map[string]bool
	retired   map[string]*pscrape.Target

	mu      sync.RWMutex
	configs map[string]*promconfig.ScrapeConfig
	// scraping are the jobs' configs as the scrape manager applies them.
	scraping map[string]*promconfig.ScrapeConfig
}

// New builds the collector; nothing runs until Run.
func New(opts Options) (*Manager, error) {
	if opts.Registerer == nil {
		return nil, errors.New("scrape: nil registerer")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sdMetrics := opts.SDMetrics
	if sdMetrics == nil {
		var err error
		if sdMetrics, err = pdiscovery.CreateAndRegisterSDMetrics(opts.Registerer); err != nil {
			return nil, fmt.Errorf("discovery metrics: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	dm := pdiscovery.NewManager(ctx, logger.With("component", "discovery"), opts.Registerer, sdMetrics, pdiscovery.Name("scrape"))
	if dm == nil {
		cancel()
		return nil, errors.New("create discovery manager")
	}
	filter := newFilterProxy(logger.With("component", "scrape filter"))
	dropped := func(url string) (int, bool) {
		n, _, ok := filter.last(url)
		return n, ok
	}
	app := newCountingAppendable(opts.Appendable, opts.Registerer, dropped)
	// The first targets discovered are scraped at once, not after the
	// scrape manager's 5 s throttle of target updates, which still spaces
	// the later ones: servescope's first samples come 5 s sooner. The
	// clients reach the filter proxy in memory through its dial function.
	sm, err := pscrape.NewManager(&pscrape.Options{
		DiscoveryReloadOnStartup: true,
		PassMetadataInContext:    true,
		HTTPClientOptions:        []config_util.HTTPClientOption{filter.dialOption()},
	}, logger.With("component", "scrape"), nil, nil, app, opts.Registerer)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	return &Manager{
		skips:       filter.skips,
		retired:     map[string]*pscrape.Target{},
		filter:      filter,
		logger:      logger,
		kube:        opts.KubeClient,
		recognize:   opts.Recognize,
		reads:       opts.Reads,
		sumCount:    opts.SumCountOnly,
		values:      opts.ValueKeeps,
		counts:      app,
		discovery:   dm,
		scrape:      sm,
		cancel:      cancel,
		errs:        newErrorLocator(),
		locateEvery: cmp.Or(opts.LocateEvery, 5*time.Second),
		configs:     map[string]*promconfig.ScrapeConfig{},
	}, nil
}

// ApplyConfig applies a loaded config to discovery and scraping.
func (m *Manager) ApplyConfig(cfg *config.Config) error {
	scs, err := cfg.Prometheus.GetScrapeConfigs()
	if err != nil {
		return fmt.Errorf("scrape configs of %s: %w", cfg.File, err)
	}
	sd := make(map[string]pdiscovery.Configs, len(scs))
	byJob := make(map[string]*promconfig.ScrapeConfig, len(scs))
	for _, sc := range scs {
		byJob[sc.JobName] = sc
		cfgs := make(pdiscovery.Configs, 0, len(sc.ServiceDiscoveryConfigs))
		for _, c := range sc.ServiceDiscoveryConfigs {
			if k, ok := c.(*kubernetes.SDConfig); ok && k.Role == kubernetes.RolePod {
				c = &discovery.PodConfig{SD: k, NewClient: m.kube, PortTargets: discovery.ReadsContainerPorts(sc.RelabelConfigs)}
			}
			cfgs = append(cfgs, c)
		}
		sd[sc.JobName] = cfgs
	}
	reads := m.reads
	if cfg.Servescope.KeepAllMetrics {
		reads = nil
	}
	keep, err := keepRule(reads, cfg.Servescope.KeepMetrics, m.sumCount)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	var values []*relabel.Config
	if keep != nil {
		if values, err = valueRules(m.values, cfg.Servescope.KeepMetrics); err != nil {
			return fmt.Errorf("%s: %w", cfg.File, err)
		}
	}
	pc := withKeep(cfg.Prometheus, scs, keep, values...)
	if keep != nil {
		m.filter.prefilter(pc.ScrapeConfigs, keep, m.sumCount)
	} else {
		m.filter.setJobs(nil, "")
	}
	if err := m.scrape.ApplyConfig(pc); err != nil {
		return fmt.Errorf("apply scrape config from %s: %w", cfg.File, err)
	}
	if err := m.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("apply discovery config from %s: %w", cfg.File, err)
	}
	scraping := make(map[string]*promconfig.ScrapeConfig, len(pc.ScrapeConfigs))
	for _, sc := range pc.ScrapeConfigs {
		scraping[sc.JobName] = sc
	}
	m.mu.Lock()
	m.configs, m.scraping = byJob, scraping
	m.mu.Unlock()
	return nil
}

// applied returns a job's scrape config as the scrape manager applies it.
func (m *Manager) applied(job string) *promconfig.ScrapeConfig {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.scraping[job]
}

// Run discovers and scrapes until ctx ends, then stops both managers; the
// last scrape of each target writes staleness markers.
func (m *Manager) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	served := make(chan struct{})
	go func() {
		defer close(served)
		m.filter.serve()
	}()
	defer func() {
		_ = m.filter.close()
		<-served
	}()
	go func() { errc <- m.discovery.Run() }()
	rctx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	go func() { errc <- m.scrape.Run(m.relay(rctx, m.discovery.SyncCh())) }()
	lctx, stopLocating := context.WithCancel(ctx)
	located := make(chan struct{})
	go func() {
		defer close(located)
		m.locateErrors(lctx, m.locateEvery)
	}()
	defer func() {
		stopLocating()
		<-located
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			m.logger.Error("collector stopped", "err", err)
		}
	}
	m.scrape.Stop()
	m.cancel()
	return nil
}

// config returns the scrape config of a job.
func (m *Manager) config(job string) *promconfig.ScrapeConfig {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.configs[job]
}

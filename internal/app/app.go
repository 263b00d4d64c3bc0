// Package app wires servescope's components and runs their lifecycle, so
// that main stays thin and tests can embed the whole server in-process.
// It builds each dependency once and passes it down: the store, the query
// engine, the collector and the HTTP API, then runs them in an oklog/run
// group and shuts them down in order (HTTP, collection with its staleness
// markers, then the store).
//
// It may import every internal package; only cmd imports it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/servescope/servescope/internal/analyze/diagnose"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/analyze/rules"
	"github.com/servescope/servescope/internal/collect/discovery"
	"github.com/servescope/servescope/internal/collect/scrape"
	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/present/alert"
	"github.com/servescope/servescope/internal/present/api"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/store/tsdb"
)

// Options are the settings of `servescope serve` that need a restart; the
// config file holds what can be reloaded.
type Options struct {
	ConfigFile    string
	StoragePath   string
	Retention     time.Duration
	ListenAddress string
	// QueryTimeout and QueryMaxSamples bound each PromQL query.
	QueryTimeout    time.Duration
	QueryMaxSamples int
	// QueryMaxConcurrency, QueryQueueTimeout, QueryMaxSubqueryPoints and
	// QueryMemoryBudget are the API's query admission (query.EngineOptions).
	QueryMaxConcurrency    int
	QueryMaxQueue          int
	QueryQueueTimeout      time.Duration
	QueryMaxSubqueryPoints int64
	QueryMemoryBudget      int64
	// MaxResponseBytes caps one API response (api.Options).
	MaxResponseBytes int
	// AutoMemLimitRatio, when above zero, sets GOMEMLIMIT to that share
	// of the container's (or machine's) memory at start (applyMemLimit).
	AutoMemLimitRatio float64
	// AutoMaxProcs sets GOMAXPROCS to 1 under a CPU quota below two cores
	// (applyMaxProcs).
	AutoMaxProcs bool
	Logger       *slog.Logger
	Build        api.BuildInfo
	// Flags are the command line's flags and values, for
	// /api/v1/status/flags.
	Flags map[string]string
	// RemoteURL, when set, is a Prometheus-compatible API (Prometheus,
	// Thanos, Mimir) that the HTTP API, diagnosis, cost and dashboard read
	// instead of the embedded store: the external-Prometheus mode, where
	// that Prometheus scrapes and evaluates the generated rules. The
	// embedded store still holds whatever servescope.yml scrapes itself.
	RemoteURL string
	// RemoteRecorded says the external Prometheus evaluates the catalog's
	// recording rules (`servescope rules`), so the dashboard reads those
	// recorded series as it does on the embedded store; without it the
	// dashboard runs the full catalog queries over raw series (slower on
	// a large fleet).
	RemoteRecorded bool
	// KubeClient overrides how Kubernetes clients are built (tests pass a
	// fake clientset).
	KubeClient discovery.ClientFunc
	// WebConfigFile is an exporter-toolkit web config (Prometheus's
	// --web.config.file format): TLS and basic auth on every endpoint.
	// Empty serves plain HTTP without auth.
	WebConfigFile string
	// Agent runs servescope as an agent (`serve --agent`), one per
	// cluster: scrape, a WAL-only store (Prometheus's tsdb/agent) and
	// remote_write, with no query engine, rules, diagnosis or dashboard.
	// The config must have a remote_write section.
	Agent bool
	// OpenStore opens the embedded store; nil is tsdb.Open. Tests slow it
	// down to observe the server during WAL replay.
	OpenStore func(tsdb.Options) (*tsdb.DB, error)
	// Pprof serves Go's profiles under /debug/pprof/ as Prometheus does
	// (off by default: the profiles name the process's internals).
	Pprof bool
}

// Server is a running servescope.
type Server struct {
	opts     Options
	logger   *slog.Logger
	registry *prometheus.Registry
	db       *tsdb.DB
	engine   *query.Engine
	// querier is what the API and analysis read: the engine, or the
	// external Prometheus in external mode.
	querier query.Querier
	scraper *scrape.Manager
	catalog *schema.Catalog
	rules   *rules.Manager
	// pages counts the dashboard pages being served: the rule manager lets
	// them go first (rules.Options.Yield).
	pages   query.Foreground
	alerter *alert.Manager
	// alerts are the diagnosis's alerting rules, applied with the
	// catalog's recording rules on every (re)load.
	alerts rules.Builtin
	// fleet computes the fleet model for the diagnosis API (nil before
	// analysis builds it).
	fleet *fleet.Calculator
	// tenantTeams maps gateway tenants (fairness_id) to teams (tenant_teams).
	tenantTeams map[string]string
	api         *api.API
	listener    net.Listener
	// http serves from New on: the health endpoints answer during the
	// WAL replay, the API once New has built it (handler).
	http    *http.Server
	handler atomic.Pointer[http.Handler]
	served  chan error
	ready   atomic.Bool
	reloads reloadMetrics
	// loaded is the config in force, for /api/v1/status/config.
	loaded atomic.Pointer[config.Config]
	// reload is sent to by Reload and read by Run's reload actor;
	// unbuffered, never closed.
	reload chan chan error
	closed sync.Once
}

// New loads the config, binds the listener and serves the health
// endpoints from there on (/-/healthy 200, /-/ready 503 until Run), then
// opens the store, replaying its WAL, and builds the components; it rolls
// back what it opened when a step fails.
func New(opts Options) (_ *Server, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, cat, err := checkConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := checkMode(opts, cfg); err != nil {
		return nil, err
	}
	if opts.WebConfigFile != "" {
		if err := web.Validate(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("web config %s: %w", opts.WebConfigFile, err)
		}
	}
	externalURL, err := url.Parse("http://" + opts.ListenAddress)
	if err != nil {
		return nil, fmt.Errorf("external URL from %s: %w", opts.ListenAddress, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	applyMemLimit(opts.AutoMemLimitRatio, logger)
	applyMaxProcs(opts.AutoMaxProcs, logger)
	applyNoTelemetry()

	s := &Server{opts: opts, logger: logger, registry: reg, reload: make(chan chan error), reloads: newReloadMetrics(reg)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.listen(); err != nil {
		return nil, err
	}
	open := opts.OpenStore
	if open == nil {
		open = tsdb.Open
	}
	logger.Info("opening the store (replaying its WAL)", "path", opts.StoragePath, "agent", opts.Agent)
	s.db, err = open(tsdb.Options{Path: opts.StoragePath, Retention: opts.Retention, Agent: opts.Agent, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, err
	}
	// The catalog parsed every query in the config check: a bad one failed
	// the start there.
	s.catalog = cat
	// Discovery metrics register once; scraping and Alertmanager discovery
	// share them.
	sdMetrics, err := pdiscovery.CreateAndRegisterSDMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("discovery metrics: %w", err)
	}
	// The embedded store keeps what the analysis reads; an agent forwards
	// everything, for the central store to decide.
	var reads []*labels.Matcher
	var sumCount []string
	var values []scrape.ValueKeep
	if !opts.Agent {
		if reads, sumCount, values, err = analysisReads(s.catalog, cfg.Servescope.TeamLabel); err != nil {
			return nil, err
		}
	}
	s.scraper, err = scrape.New(scrape.Options{
		Logger: logger, Registerer: reg, Appendable: s.db.AppendableV2(), KubeClient: opts.KubeClient, SDMetrics: sdMetrics,
		Recognize: func(families []string) string { return s.catalog.Recognize(families).Exporter },
		Reads:     reads, SumCountOnly: sumCount, ValueKeeps: values,
	})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(buildInfoMetric(opts.Build))
	// Remote write sends the metadata of the scraped targets.
	s.db.SetScrapeManager(s.scraper)
	if opts.Agent {
		s.agentAPI()
	} else if err := s.local(cfg, externalURL, sdMetrics); err != nil {
		return nil, err
	}
	if err := s.applyLoaded(cfg); err != nil {
		return nil, err
	}
	s.reloads.succeeded(true)
	var h http.Handler = s.api
	s.handler.Store(&h)
	return s, nil
}

// local builds what reads the embedded store: the query engine, the rule
// manager and Alertmanager notifier, the API over them and the analysis.
func (s *Server) local(cfg *config.Config, externalURL *url.URL, sdMetrics *pdiscovery.SDMetrics) (err error) {
	opts, logger, reg := s.opts, s.logger, s.registry
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "servescope_head_series",
		Help: "Series in the embedded store's in-memory head block.",
	}, func() float64 { return float64(s.db.HeadSeries()) }))
	s.engine = query.NewEngine(s.db.Queryable(), query.EngineOptions{
		Timeout: opts.QueryTimeout, MaxSamples: opts.QueryMaxSamples, Logger: logger, Registerer: reg,
		MaxConcurrency: opts.QueryMaxConcurrency, MaxQueue: opts.QueryMaxQueue, QueueTimeout: opts.QueryQueueTimeout,
		MaxSubqueryPoints: opts.QueryMaxSubqueryPoints, MemoryBudget: opts.QueryMemoryBudget,
	})
	s.alerter, err = alert.New(alert.Options{Logger: logger, Registerer: reg, SDMetrics: sdMetrics})
	if err != nil {
		return err
	}
	s.rules, err = rules.New(rules.Options{
		Logger: logger, Registerer: reg, Appendable: s.db.AppendableV2(), Queryable: s.db.Queryable(),
		Engine: s.engine.Promql(), Lookback: s.engine.LookbackDelta(), Interval: time.Duration(cfg.Prometheus.GlobalConfig.EvaluationInterval),
		ExternalURL: externalURL, Notify: s.alerter.Notify(externalURL.String()), MetricLabels: s.db.MetricLabelNames,
		Yield: s.pages.Wait,
	})
	if err != nil {
		return err
	}
	s.querier = s.engine
	var backend query.Backend
	if opts.RemoteURL != "" {
		remote, err := query.NewRemote(opts.RemoteURL)
		if err != nil {
			return err
		}
		s.querier, backend = remote, remote
		logger.Info("reading an external Prometheus", "url", opts.RemoteURL)
	}
	s.api = api.New(api.Options{
		Logger: logger, Querier: s.querier, Targets: s.scraper, Gatherer: reg,
		Ready: s.ready.Load, Build: opts.Build, MaxResponseBytes: opts.MaxResponseBytes,
		Backend: backend, Exemplars: s.engine, Status: s.apiStatus(),
	})
	s.api.HandleRules(s.rules)
	if opts.Pprof {
		handlePprof(s.api)
	}
	return s.analysis(cfg)
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Querier is the embedded query engine, for in-process callers.
func (s *Server) Querier() query.Querier { return s.querier }

// Reload re-reads the config file and applies it; a bad file leaves the
// running config in place.
func (s *Server) Reload(ctx context.Context) error {
	errc := make(chan error, 1)
	select {
	case s.reload <- errc:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyConfig reloads the config file. It refuses what `check config`
// refuses (thresholds, price book included) and an empty file, keeping
// the running config; the reload metrics say how it went.
func (s *Server) applyConfig() error {
	cfg, err := CheckConfig(s.opts.ConfigFile)
	if err == nil && cfg.Empty {
		err = fmt.Errorf("%s: the file is empty; keeping the running config (an empty config would drop every target)", s.opts.ConfigFile)
	}
	if err == nil {
		err = checkMode(s.opts, cfg)
	}
	if err == nil {
		err = s.applyLoaded(cfg)
	}
	s.reloads.succeeded(err == nil)
	return err
}

// analysis builds what reads the store: the diagnosis with its alerting
// rules (/api/v1/diagnoses), cost attribution (/api/v1/costs) and the
// dashboard at /. Thresholds, prices and queue mapping need a restart.
func (s *Server) analysis(cfg *config.Config) error {
	th, err := Thresholds(cfg)
	if err != nil {
		return err
	}
	interval := time.Duration(cfg.Prometheus.GlobalConfig.EvaluationInterval)
	calc, err := NewCostCalculator(CostOptions{
		TeamLabel: cfg.Servescope.TeamLabel, ClusterLabel: cfg.Servescope.ClusterLabel, PriceBook: cfg.Servescope.PriceBook,
		QueueTeams: cfg.Servescope.QueueTeams, CarbonIntensity: cfg.Servescope.CarbonIntensity, ReferencePrices: cfg.Servescope.ReferencePrices,
		LentQuotaIsIdle: cfg.Servescope.LentQuotaIsIdle, Catalog: s.catalog, Logger: s.logger,
	})
	if err != nil {
		return fmt.Errorf("cost attribution: %w", err)
	}
	s.tenantTeams = cfg.Servescope.TenantTeams
	// The diagnosis at /api/v1/diagnoses carries the fleet model.
	if s.fleet, err = newFleet(s.catalog, calc, false, th.Health); err != nil {
		return fmt.Errorf("fleet model: %w", err)
	}
	s.api.Handle("/api/v1/fleet", s.api.Fleet(s.fleet))
	objectives, err := Objectives(cfg, s.catalog)
	if err != nil {
		return err
	}
	if s.alerts, err = s.EnableDiagnosis(th, objectives, interval); err != nil {
		return err
	}
	s.api.Handle("/api/v1/costs", s.api.Costs(calc))
	// The embedded rule manager evaluates the catalog's recording rules
	// (and backfill writes them with the history), so the dashboard reads
	// those; an external Prometheus may not have them.
	// Viewers of the same page in the same scrape interval are answered
	// by one evaluation over the embedded store.
	dash := s.querier
	if s.opts.RemoteURL == "" {
		if dash, err = query.NewCache(s.querier, query.CacheOptions{Interval: time.Duration(cfg.Prometheus.GlobalConfig.ScrapeInterval), Registerer: s.registry}); err != nil {
			return err
		}
	}
	return mountWeb(s.api, webOptions{Querier: dash, Catalog: s.catalog, Thresholds: th, Calc: calc, Objectives: objectives,
		Recorded: s.opts.RemoteURL == "" || s.opts.RemoteRecorded, Logger: s.logger, Pages: &s.pages})
}

// Thresholds reads the diagnosis thresholds of the config's servescope
// section over the defaults, and validates them.
func Thresholds(cfg *config.Config) (diagnose.Thresholds, error) {
	th := diagnose.DefaultThresholds()
	if err := cfg.DecodeSection("diagnosis", &cfg.Servescope.Diagnosis, &th); err != nil {
		return th, err
	}
	if err := th.Validate(time.Duration(cfg.Prometheus.GlobalConfig.ScrapeInterval)); err != nil {
		return th, cfg.LocateIn(&cfg.Servescope.Diagnosis, err)
	}
	return th, nil
}

// CheckConfig loads a config file and checks everything serve would
// refuse at start: the Prometheus part, the servescope section, the
// diagnosis thresholds and the price book.
func CheckConfig(path string) (*config.Config, error) {
	cfg, _, err := checkConfig(path)
	return cfg, err
}

// checkConfig is CheckConfig, also returning the signal catalog it built
// for the config (its team and cluster labels), for the server to use.
func checkConfig(path string) (*config.Config, *schema.Catalog, error) {
	cfg, err := config.LoadFile(path, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := Thresholds(cfg); err != nil {
		return nil, nil, err
	}
	cat, err := schema.New(schema.Options{TeamLabel: cfg.Servescope.TeamLabel, ClusterLabel: cfg.Servescope.ClusterLabel})
	if err != nil {
		return nil, nil, err
	}
	if _, err := Objectives(cfg, cat); err != nil {
		return nil, nil, err
	}
	if _, err := NewCostCalculator(CostOptions{TeamLabel: cfg.Servescope.TeamLabel, ClusterLabel: cfg.Servescope.ClusterLabel, PriceBook: cfg.Servescope.PriceBook, QueueTeams: cfg.Servescope.QueueTeams, ReferencePrices: cfg.Servescope.ReferencePrices, Catalog: cat}); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, cat, nil
}

// applyLoaded applies a loaded config to every reloadable component: the
// rules first (they only read; none in agent mode), then remote write
// (remote_write, global.external_labels), then collection.
func (s *Server) applyLoaded(cfg *config.Config) (err error) {
	defer func() {
		if err == nil {
			s.loaded.Store(cfg)
			applyRuntime(cfg, s.logger)
		}
	}()
	if s.rules != nil {
		interval := time.Duration(cfg.Prometheus.GlobalConfig.EvaluationInterval)
		set, err := Objectives(cfg, s.catalog)
		if err != nil {
			return err
		}
		objectives, err := sloBuiltin(s.catalog, set, interval)
		if err != nil {
			return err
		}
		if err := s.rules.ApplyConfig(cfg.Prometheus.RuleFiles, rules.Builtin{Name: "catalog", Groups: s.catalog.RuleGroups(interval)}, s.alerts, objectives); err != nil {
			return fmt.Errorf("rules of %s: %w", cfg.File, err)
		}
		if err := s.alerter.ApplyConfig(cfg); err != nil {
			return err
		}
	}
	if err := s.db.ApplyConfig(cfg.Prometheus); err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	return s.scraper.ApplyConfig(cfg)
}

// Run serves until ctx ends, then shuts down in order and closes the store.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	var g run.Group
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.scraper.Run(ctx) }, func(error) { cancel() })
	}
	if s.rules != nil {
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.rules.Run(ctx) }, func(error) { cancel() })
	}
	if s.alerter != nil {
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.alerter.Run(ctx) }, func(error) { cancel() })
	}
	{
		// The server has served since New; this actor marks it ready and
		// shuts it down.
		stop := make(chan struct{})
		g.Add(func() error {
			s.ready.Store(true)
			s.logger.Info("ready", "address", s.Addr())
			select {
			case err := <-s.served:
				return err
			case <-stop:
				return nil
			}
		}, func(error) {
			s.ready.Store(false)
			close(stop)
			s.shutdownHTTP()
		})
	}
	{
		done := make(chan struct{})
		g.Add(func() error {
			for {
				select {
				case errc := <-s.reload:
					err := s.applyConfig()
					if err != nil {
						s.logger.Error("reload config failed; the running config stays", "file", s.opts.ConfigFile, "err", err)
					} else {
						s.logger.Info("reloaded config", "file", s.opts.ConfigFile)
					}
					errc <- err
				case <-ctx.Done():
					return nil
				case <-done:
					return nil
				}
			}
		}, func(error) { close(done) })
	}
	return g.Run()
}

func (s *Server) close() {
	s.closed.Do(func() {
		s.shutdownHTTP()
		if s.listener != nil {
			_ = s.listener.Close() // already closed by a clean HTTP shutdown
		}
		if s.db != nil {
			if err := s.db.Close(); err != nil {
				s.logger.Error("close store", "err", err)
			}
		}
	})
}

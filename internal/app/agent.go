package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/model"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/present/api"
)

// agentUnavailable is what agent mode answers for queries, rules,
// diagnosis, cost and the dashboard.
const agentUnavailable = "unavailable in agent mode: this servescope (serve --agent) scrapes and remote-writes only; " +
	"query the remote_write receiver, or a servescope reading it with --query.remote-url"

// checkMode refuses a config the mode cannot run: agent mode without a
// remote_write section (the agent keeps nothing to query, so it would
// scrape into a WAL nobody reads), or agent mode reading a remote API.
func checkMode(opts Options, cfg *config.Config) error {
	if !opts.Agent {
		return nil
	}
	if opts.RemoteURL != "" {
		return errors.New("--agent and --query.remote-url exclude each other: an agent serves no queries")
	}
	if len(cfg.Prometheus.RemoteWriteConfigs) == 0 {
		return fmt.Errorf("%s: agent mode needs a remote_write section: the agent stores nothing to query and sends every sample it scrapes there", cfg.File)
	}
	return nil
}

// agentAPI serves agent mode: health, readiness, /metrics, targets and
// build information as usual; queries, series, labels and everything
// else under /api/v1/ and the dashboard answer Prometheus Agent's error.
func (s *Server) agentAPI() {
	s.querier = agentQuerier{}
	s.api = api.New(api.Options{
		Logger: s.logger, Querier: s.querier, Targets: s.scraper, Gatherer: s.registry,
		Ready: s.ready.Load, Build: s.opts.Build, MaxResponseBytes: s.opts.MaxResponseBytes, Status: s.apiStatus(),
	})
	s.api.Agent(agentUnavailable)
	s.api.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = fmt.Fprintf(w, "servescope agent: %s.\nServed here: /-/healthy, /-/ready, /metrics, /api/v1/targets.\n", agentUnavailable)
			return
		}
		http.NotFound(w, r)
	}))
}

// agentQuerier is the agent's Querier: every read fails with
// agentUnavailable, typed as Prometheus Agent types it (execution, 422).
type agentQuerier struct{}

func agentErr() error {
	return &query.Error{Type: query.ErrExec, Err: errors.New(agentUnavailable)}
}

func (agentQuerier) Query(context.Context, string, time.Time) (query.Result, error) {
	return query.Result{}, agentErr()
}

func (agentQuerier) QueryRange(context.Context, string, query.Range) (query.Result, error) {
	return query.Result{}, agentErr()
}

func (agentQuerier) Series(context.Context, []string, time.Time, time.Time) ([]model.LabelSet, error) {
	return nil, agentErr()
}

func (agentQuerier) LabelNames(context.Context, []string, time.Time, time.Time) ([]string, error) {
	return nil, agentErr()
}

func (agentQuerier) LabelValues(context.Context, string, []string, time.Time, time.Time) ([]string, error) {
	return nil, agentErr()
}

// Package rules embeds Prometheus's rule manager: it evaluates recording and
// alerting rules (servescope's generated catalog rules and users' rule files)
// with the embedded PromQL engine and writes the results back into the store.
//
// It is the only package that imports Prometheus's rules package. It takes
// the store as a storage.Queryable and storage.AppendableV2 and the engine as
// a *promql.Engine, so it imports neither store/tsdb nor analyze/query; it
// must not import collect or present packages.
package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	prules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// BuiltinPrefix marks in-memory rule sets (e.g. "builtin:catalog") among the
// identifiers the manager loads; everything else is a file path.
const BuiltinPrefix = "builtin:"

// DefaultInterval is the evaluation interval when Options.Interval is zero.
const DefaultInterval = 30 * time.Second

// Options configure a Manager. Appendable, Queryable and Engine are required.
type Options struct {
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the rule manager's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Appendable is where recorded series are written.
	Appendable storage.AppendableV2
	// Queryable is what rules read (and alert state is restored from).
	Queryable storage.Queryable
	// Engine evaluates rule expressions.
	Engine *promql.Engine
	// MetricLabels returns the label names of the series of a metric name,
	// at any time the store holds; label_replace calls whose source label
	// the series they read lack are left out of the evaluation. Nil leaves
	// out only those whose source label no series has.
	MetricLabels func(ctx context.Context, metric string) ([]string, error)
	// Interval is the default evaluation interval of groups without one.
	Interval time.Duration
	// Lookback is Engine's lookback delta: a selector read again later in
	// a group evaluation is kept in memory meanwhile, and of an instant
	// selector only the newest sample in it. Zero keeps every sample; a
	// value above the engine's could drop a sample a smoothed selector
	// reads.
	Lookback time.Duration
	// ExternalLabels are added to alerts.
	ExternalLabels labels.Labels
	// ExternalURL is the URL alerts link back to.
	ExternalURL *url.URL
	// Notify receives firing and resolved alerts; nil drops them.
	Notify func(ctx context.Context, expr string, alerts ...*Alert)
	// Yield, when set, is called before each rule's query with a deadline
	// a quarter of the group's interval after the evaluation time, and
	// returns when the rule may go on, with how long it waited
	// (query.Foreground's Wait: the dashboard's pages in progress first).
	// What the rules record does not change, only when.
	Yield func(ctx context.Context, deadline time.Time) time.Duration
}

// Alert is an alert handed to Options.Notify.
type Alert = prules.Alert

// Builtin is a named in-memory rule set, such as the catalog's rules.
type Builtin struct {
	Name   string
	Groups rulefmt.RuleGroups
}

// Manager evaluates rule groups into the store.
type Manager struct {
	m        *prules.Manager
	fails    *failures // rule failures logged once per change of error
	loader   *loader
	shared   *sharedReads // selectors read once per group evaluation
	logger   *slog.Logger
	interval time.Duration
	extLbls  labels.Labels
	extURL   string
	cancel   context.CancelFunc

	mu      sync.Mutex
	ids     []string        // rule files and builtin identifiers, in order
	groups  []*prules.Group // loaded, never started: what EvalAt evaluates
	running bool            // Run has handed the rule set to the live manager
}

// New builds a Manager; it evaluates nothing until ApplyConfig and Run.
func New(o Options) (*Manager, error) {
	switch {
	case o.Appendable == nil:
		return nil, errors.New("rules: Appendable is required")
	case o.Queryable == nil:
		return nil, errors.New("rules: Queryable is required")
	case o.Engine == nil:
		return nil, errors.New("rules: Engine is required")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "rules")
	fails := newFailures(logger)
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	notify := o.Notify
	if notify == nil {
		notify = func(context.Context, string, ...*Alert) {}
	}
	p := parser.NewParser(parser.Options{})
	ld := &loader{parser: p, logger: logger, builtin: map[string]rulefmt.RuleGroups{}}
	ctx, cancel := context.WithCancel(context.Background())
	extURL := ""
	if o.ExternalURL != nil {
		extURL = o.ExternalURL.String()
	}
	shared := newSharedReads(o.Queryable, o.Lookback)
	m := prules.NewManager(&prules.ManagerOptions{
		NameValidationScheme: model.UTF8Validation,
		ExternalURL:          o.ExternalURL,
		QueryFunc:            shared.wrap(newYielder(newPruner(newFolder(o.Engine, shared, p).QueryFunc, o.Queryable, p, o.MetricLabels).QueryFunc, o.Yield, o.Interval, o.Registerer)),
		NotifyFunc:           prules.NotifyFunc(notify),
		Context:              ctx,
		AppendableV2:         o.Appendable,
		Queryable:            o.Queryable,
		Logger:               slog.New(&handler{next: logger.Handler(), f: fails}),
		Registerer:           o.Registerer,
		OutageTolerance:      time.Hour,
		ForGracePeriod:       10 * time.Minute,
		ResendDelay:          time.Minute,
		GroupLoader:          ld,
		Parser:               p,
	})
	return &Manager{m: m, fails: fails, loader: ld, shared: shared, logger: logger, interval: o.Interval, extLbls: o.ExternalLabels, extURL: extURL, cancel: cancel}, nil
}

// ApplyConfig replaces the rule set with the given rule files and builtin
// rule sets. Every file and group is parsed before anything changes; on error
// the previous rule set stays in force. Before Run, nothing is started:
// EvalAt alone can evaluate the rules (backfill), with no goroutines.
func (m *Manager) ApplyConfig(files []string, builtin ...Builtin) error {
	ids := slices.Clone(files)
	sets := make(map[string]rulefmt.RuleGroups, len(builtin))
	for _, b := range builtin {
		id := BuiltinPrefix + b.Name
		if _, dup := sets[id]; dup {
			return fmt.Errorf("rules: builtin rule set %q given twice", b.Name)
		}
		sets[id] = b.Groups
		ids = append(ids, id)
	}
	order, err := m.loader.check(ids, sets)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.loader.swap(sets)
	loaded, errs := m.m.LoadGroups(m.interval, m.extLbls, m.extURL, m.fails.evalIteration, false, ids...)
	if len(errs) > 0 {
		m.loader.swap(prev)
		return fmt.Errorf("rules: load %d files and %d builtin sets: %w", len(files), len(builtin), errors.Join(errs...))
	}
	if m.running {
		if err := m.m.Update(m.interval, ids, m.extLbls, m.extURL, m.fails.evalIteration); err != nil {
			m.loader.swap(prev)
			return fmt.Errorf("rules: apply %d files and %d builtin sets: %w", len(files), len(builtin), err)
		}
	}
	m.ids = ids
	m.groups = m.groups[:0]
	for _, k := range order {
		if g, ok := loaded[k]; ok {
			m.groups = append(m.groups, g)
		}
	}
	m.shared.setPlan(m.groups)
	m.logger.Info("rules applied", "files", len(files), "builtin", len(builtin), "groups", len(m.groups))
	return nil
}

// Run evaluates the groups on their intervals until ctx is done, then stops
// the groups (writing staleness markers for their series) and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.running = true
	err := m.m.Update(m.interval, m.ids, m.extLbls, m.extURL, m.fails.evalIteration)
	m.mu.Unlock()
	if err != nil {
		m.cancel()
		return fmt.Errorf("rules: start: %w", err)
	}
	done := make(chan struct{}) // closed by the goroutine when the manager's Run returns
	go func() {
		defer close(done)
		m.m.Run()
	}()
	<-ctx.Done()
	m.m.Stop()
	m.cancel()
	<-done
	return nil
}

// EvalAt evaluates every group once at ts, in configuration order, so that
// later groups read what earlier ones recorded. It uses its own copies of
// the groups, not the running ones: it is for backfill and tests, where the
// caller owns time. Alerting rules write ALERTS and ALERTS_FOR_STATE from
// the first evaluation: a running group writes them only once it has
// restored its alerts' for: state from the store, which a history being
// written has no earlier state to restore from.
func (m *Manager) EvalAt(ctx context.Context, ts time.Time) {
	m.mu.Lock()
	groups := slices.Clone(m.groups)
	m.mu.Unlock()
	for _, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*prules.AlertingRule); ok {
				ar.SetRestored(true)
			}
		}
		g.Eval(ctx, ts)
		m.fails.recovered(g)
	}
}

// Health is the state of one rule after its last evaluation.
type Health struct {
	Group, Rule string
	Err         error
	LastEval    time.Time
	// Took is how long the last evaluation took.
	Took time.Duration
}

// Health reports each rule's last evaluation, in configuration order: of
// the running groups once Run has started, else of EvalAt's.
func (m *Manager) Health() []Health {
	m.mu.Lock()
	groups := slices.Clone(m.groups)
	running := m.running
	m.mu.Unlock()
	if running {
		live := map[string]*prules.Group{}
		for _, g := range m.m.RuleGroups() {
			live[prules.GroupKey(g.File(), g.Name())] = g
		}
		for i, g := range groups {
			if lg, ok := live[prules.GroupKey(g.File(), g.Name())]; ok {
				groups[i] = lg
			}
		}
	}
	var out []Health
	for _, g := range groups {
		for _, r := range g.Rules() {
			out = append(out, Health{Group: g.Name(), Rule: r.Name(), Err: r.LastError(), LastEval: r.GetEvaluationTimestamp(), Took: r.GetEvaluationDuration()})
		}
	}
	return out
}

// loader loads rule files from disk and builtin sets from memory.
type loader struct {
	parser parser.Parser
	logger *slog.Logger

	mu      sync.Mutex
	builtin map[string]rulefmt.RuleGroups
}

func (l *loader) swap(sets map[string]rulefmt.RuleGroups) map[string]rulefmt.RuleGroups {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.builtin
	l.builtin = sets
	return prev
}

// Load implements prules.GroupLoader.
func (l *loader) Load(id string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	if strings.HasPrefix(id, BuiltinPrefix) {
		l.mu.Lock()
		g, ok := l.builtin[id]
		l.mu.Unlock()
		if !ok {
			return nil, []error{fmt.Errorf("%s: unknown builtin rule set", id)}
		}
		return &g, nil
	}
	return rulefmt.ParseFile(id, ignoreUnknownFields, scheme, l.parser, l.logger)
}

// Parse implements prules.GroupLoader.
func (l *loader) Parse(q string) (parser.Expr, error) { return l.parser.ParseExpr(q) }

// check loads and parses everything first, returning the group keys in order.
func (l *loader) check(ids []string, sets map[string]rulefmt.RuleGroups) ([]string, error) {
	var order []string
	for _, id := range ids {
		var rgs *rulefmt.RuleGroups
		if g, ok := sets[id]; ok {
			rgs = &g
		} else {
			var errs []error
			rgs, errs = rulefmt.ParseFile(id, false, model.UTF8Validation, l.parser, l.logger)
			if len(errs) > 0 {
				return nil, fmt.Errorf("rules: load %s: %w", id, errors.Join(errs...))
			}
		}
		for _, g := range rgs.Groups {
			for _, r := range g.Rules {
				if _, err := l.parser.ParseExpr(r.Expr); err != nil {
					return nil, fmt.Errorf("rules: %s: group %q: rule %q: %w", id, g.Name, r.Record+r.Alert, err)
				}
			}
			order = append(order, prules.GroupKey(id, g.Name))
		}
	}
	return order, nil
}

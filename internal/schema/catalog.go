package schema

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// Options configures a Catalog.
type Options struct {
	// UnallocatedPod is a regular expression matching the pod label of a GPU
	// exporter's own pod; GPU series carrying it are treated as unallocated
	// (no pod, namespace or container). Default ".*dcgm-exporter.*".
	UnallocatedPod string
	// TeamLabel is the namespace label naming the owning team, as allowlisted
	// in kube-state-metrics (--metric-labels-allowlist=namespaces=[<key>]).
	// Default "team".
	TeamLabel string
	// ClusterLabel is the external label naming the cluster a series
	// comes from when many clusters send to one backend; every
	// aggregation and join keeps it, so figures of two clusters are never
	// merged. A series without it is the one unnamed cluster, as before.
	// Default "cluster".
	ClusterLabel string
	// Signals replaces the built-in signals (tests use it to inject bad data).
	Signals []Signal
}

// SourceQuery is the query one source contributes to a signal.
type SourceQuery struct {
	Source Source
	// Query is the source's per-subject query, aggregated like the signal.
	Query string
}

// compiled holds the checked queries of one signal.
type compiled struct {
	query   string
	sources []SourceQuery
	check   string
	rule    string // the expression of the recording rule (may use other rules)
	// expr is the tree printed as query, which roll-ups read while the
	// catalog is built instead of parsing query again; nil once built.
	expr parser.Expr
}

// Catalog is the checked, compiled signal catalog. It is immutable and safe
// for concurrent use.
type Catalog struct {
	signals  []Signal
	index    map[string]int
	compiled map[string]*compiled
	aliases  []Alias
	c        *compiler
	// checked holds the query texts parsed while the catalog is built: a
	// text composed twice (a signal's only source is its whole query) is
	// parsed once. Nil once built.
	checked map[string]bool
}

// ErrUnknownSignal is returned for a name the catalog does not hold.
var ErrUnknownSignal = errors.New("unknown signal")

// New builds the catalog, compiles every query and parses each with
// Prometheus's parser; any bad signal or query is an error. The built-in
// catalog is built once per process and options (see memo.go): a Catalog
// is immutable, so every caller may share it.
func New(opts Options) (*Catalog, error) {
	if opts.UnallocatedPod == "" {
		opts.UnallocatedPod = ".*dcgm-exporter.*"
	}
	if opts.ClusterLabel == "" {
		opts.ClusterLabel = DefaultClusterLabel
	}
	if opts.TeamLabel == "" {
		opts.TeamLabel = "team"
	}
	if !model.LegacyValidation.IsValidLabelName(opts.ClusterLabel) {
		return nil, fmt.Errorf("cluster label %q: not a valid label name", opts.ClusterLabel)
	}
	if opts.Signals == nil {
		return builtins.get(opts)
	}
	return build(opts)
}

// build compiles a catalog from options with their defaults set.
func build(opts Options) (*Catalog, error) {
	sigs := opts.Signals
	if sigs == nil {
		sigs = builtinSignals()
	}
	p := parser.NewParser(parser.Options{})
	if opts.TeamLabel != "team" {
		var err error
		if sigs, err = renameTeamLabel(p, sigs, ksmLabelName(opts.TeamLabel)); err != nil {
			return nil, err
		}
	}
	cat := &Catalog{
		signals:  slices.Clone(sigs),
		index:    make(map[string]int, len(sigs)),
		compiled: make(map[string]*compiled, len(sigs)),
		aliases:  aliases(),
		checked:  map[string]bool{},
		c: &compiler{
			p:           p,
			aliases:     aliases(),
			unallocated: opts.UnallocatedPod,
			dropRole:    "follower",
			cluster:     opts.ClusterLabel,
		},
	}
	for i := range cat.signals {
		s := &cat.signals[i]
		if err := validate(s); err != nil {
			return nil, err
		}
		if _, dup := cat.index[s.Name]; dup {
			return nil, fmt.Errorf("signal %q: defined twice", s.Name)
		}
		cat.index[s.Name] = i
	}
	// Sourced signals first, then roll-ups, which read the compiled queries.
	for i := range cat.signals {
		if s := &cat.signals[i]; len(s.From) == 0 {
			if err := cat.compileSourced(s); err != nil {
				return nil, fmt.Errorf("signal %q: %w", s.Name, err)
			}
		}
	}
	for i := range cat.signals {
		if s := &cat.signals[i]; len(s.From) > 0 {
			if err := cat.compileRollup(s); err != nil {
				return nil, fmt.Errorf("signal %q: %w", s.Name, err)
			}
		}
	}
	// Built: what check and the roll-ups shared is dropped, so that the
	// catalog is read-only from here on.
	cat.checked = nil
	for _, c := range cat.compiled {
		c.expr = nil
	}
	return cat, nil
}

func builtinSignals() []Signal {
	var s []Signal
	s = append(s, withDynamoWorkers(engineSignals())...)
	s = append(s, promptSourceSignals()...)
	s = append(s, pdSignals()...)
	s = append(s, gatewaySignals()...)
	s = append(s, gpuSignals()...)
	s = append(s, gpuHealthSignals()...)
	s = append(s, queueSignals()...)
	s = append(s, admissionSignals()...)
	s = append(s, namespaceSignals()...)
	s = append(s, teamSignals()...)
	return s
}

func validate(s *Signal) error {
	switch {
	case s.Name == "":
		return errors.New("signal without a name")
	case s.Help == "" || s.Unit == "" || s.Kind == "" || s.Level == "":
		return fmt.Errorf("signal %q: help, unit, kind and level are required", s.Name)
	case len(s.From) == 0 && len(s.Sources) == 0:
		return fmt.Errorf("signal %q: no sources", s.Name)
	case len(s.From) > 0 && (len(s.Sources) > 0 || s.Level != LevelTeam):
		return fmt.Errorf("signal %q: a roll-up (From) is team-level and has no sources", s.Name)
	case (s.Kind == KindHistogram) != (s.Agg == AggBuckets):
		return fmt.Errorf("signal %q: histograms, and only histograms, aggregate %q", s.Name, AggBuckets)
	case (s.Kind == KindInfo) != (s.Agg == AggInfo):
		return fmt.Errorf("signal %q: info signals, and only they, aggregate %q", s.Name, AggInfo)
	}
	if _, err := aggOp(s.Agg); err != nil {
		return fmt.Errorf("signal %q: %w", s.Name, err)
	}
	for i, src := range s.Sources {
		if src.Exporter == "" || src.Expr == "" {
			return fmt.Errorf("signal %q: source %d: exporter and expr are required", s.Name, i)
		}
	}
	return nil
}

// check keeps the cluster label through e and parses the result: every
// query the catalog hands out has been parsed once.
func (cat *Catalog) check(what string, e parser.Expr) (string, error) {
	keepCluster(e, cat.c.cluster)
	q := e.String()
	if cat.checked[q] {
		return q, nil
	}
	if _, err := cat.c.parse(what, q); err != nil {
		return "", err
	}
	if cat.checked != nil {
		cat.checked[q] = true
	}
	return q, nil
}

func (cat *Catalog) compileSourced(s *Signal) error {
	out := &compiled{}
	parts := make([]parser.Expr, 0, len(s.Sources))
	var checks []parser.Expr
	var key []string
	if s.DedupeOnKey || s.Kind == KindHistogram {
		key = s.KeyLabels()
	}
	for i := range s.Sources {
		src := &s.Sources[i]
		// A source reading classic histogram series reads their native
		// form too, after them: per subject the classic series win where
		// a store holds both (always_scrape_classic_histograms).
		forms := []bool{false}
		if native, err := cat.c.readsHistogram(src); err != nil {
			return err
		} else if native {
			forms = append(forms, true)
		}
		var exprs []parser.Expr
		for _, native := range forms {
			e, err := cat.c.sourceExpr(s, src, native)
			if err != nil {
				return err
			}
			exprs = append(exprs, e)
			if s.Range == nil || (native && s.Kind == KindHistogram) {
				// A native histogram is no number to compare: its
				// reading has no check (the classic one, on bucket
				// rates, is kept as it was written).
				continue
			}
			ce, err := cat.rangeOperand(s, src, e, native)
			if err != nil {
				return err
			}
			if oor := outOfRange(ce, s.Range); oor != nil {
				// The source label says which source broke the range, and
				// keeps flagged series of two sources apart once recorded.
				checks = append(checks, labelReplace(oor, "source", strconv.Itoa(i+1), "", ""))
			}
		}
		q, err := cat.check("source "+src.Exporter, firstWins(key, exprs))
		if err != nil {
			return err
		}
		out.sources = append(out.sources, SourceQuery{Source: *src, Query: q})
		parts = append(parts, exprs...)
	}
	whole := firstWins(key, parts)
	q, err := cat.check("query", whole)
	if err != nil {
		return err
	}
	out.query, out.rule, out.expr = q, q, whole
	if len(checks) > 0 {
		all := checks[0]
		for _, c := range checks[1:] {
			all = binary(parser.LOR, all, c, &parser.VectorMatching{Card: parser.CardManyToMany})
		}
		if out.check, err = cat.check("range check", all); err != nil {
			return err
		}
	}
	cat.compiled[s.Name] = out
	return nil
}

// rangeOperand is what a range check compares: each series before
// aggregation, so one bad engine rank is not averaged away; ratio sources
// are checked after the division.
func (cat *Catalog) rangeOperand(s *Signal, src *Source, aggregated parser.Expr, native bool) (parser.Expr, error) {
	if src.Denominator != "" {
		return aggregated, nil
	}
	return cat.c.normalizeForm("range check "+src.Exporter, src.Expr, native, s.Level, src.Relabel, s.By())
}

// compileRollup builds a team roll-up through the topology join, once over
// the full queries (Query) and once over the recorded series (the rule).
func (cat *Catalog) compileRollup(s *Signal) error {
	full := func(name string) (parser.Expr, error) {
		c, ok := cat.compiled[name]
		if !ok {
			return nil, fmt.Errorf("%w %q (roll-ups must come after what they read)", ErrUnknownSignal, name)
		}
		// The tree query was printed from (and checked) is read as it
		// is; roll-ups only wrap it in new nodes, never change it.
		return c.expr, nil
	}
	recorded := func(name string) (parser.Expr, error) {
		i, ok := cat.index[name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownSignal, name)
		}
		return &parser.VectorSelector{Name: cat.signals[i].RecordName()}, nil
	}
	out := &compiled{}
	for _, leaf := range []func(string) (parser.Expr, error){full, recorded} {
		parts := make([]parser.Expr, 0, len(s.From))
		for _, from := range s.From {
			e, err := cat.rollup(s, from, leaf)
			if err != nil {
				return err
			}
			parts = append(parts, e)
		}
		whole := firstWins(nil, parts)
		q, err := cat.check("query", whole)
		if err != nil {
			return err
		}
		if out.query == "" {
			out.query, out.expr = q, whole
		} else {
			out.rule = q
		}
	}
	cat.compiled[s.Name] = out
	return nil
}

// rollup joins one lower-level signal to teams: GPU → pod (gpu_pod) →
// namespace → team (namespace_team), pod or namespace → team, and
// ClusterQueue → team (queue_team).
func (cat *Catalog) rollup(s *Signal, fromName string, leaf func(string) (parser.Expr, error)) (parser.Expr, error) {
	i, ok := cat.index[fromName]
	if !ok {
		return nil, fmt.Errorf("from: %w %q", ErrUnknownSignal, fromName)
	}
	from := &cat.signals[i]
	e, err := leaf(from.Name)
	if err != nil {
		return nil, err
	}
	op, err := aggOp(s.Agg)
	if err != nil {
		return nil, err
	}
	join := func(many parser.Expr, oneName string, key []string, include ...string) (parser.Expr, error) {
		one, err := leaf(oneName)
		if err != nil {
			return nil, err
		}
		return binary(parser.MUL, many, one, on(parser.CardManyToOne, key, include...)), nil
	}
	switch from.Level {
	case LevelGPU:
		if from.Name != "gpu_pod" {
			// gpu_pod is the many side: a time-sliced GPU held by several
			// pods yields one row per pod instead of a matching error.
			gp, err := leaf("gpu_pod")
			if err != nil {
				return nil, err
			}
			e = binary(parser.MUL, gp, e, on(parser.CardManyToOne, LevelGPU.Key()))
		}
		if e, err = join(e, "namespace_team", []string{"namespace"}, "team"); err != nil {
			return nil, err
		}
	case LevelPod, LevelNamespace:
		if e, err = join(e, "namespace_team", []string{"namespace"}, "team"); err != nil {
			return nil, err
		}
	case LevelQueue:
		// One value per ClusterQueue, copied to every team it serves
		// (queue_team is the many side).
		qt, err := leaf("queue_team")
		if err != nil {
			return nil, err
		}
		e = binary(parser.MUL, qt, aggregate(op, e, LevelQueue.Key()), on(parser.CardManyToOne, LevelQueue.Key()))
	default:
		return nil, fmt.Errorf("cannot roll %s-level signal %q up to teams", from.Level, from.Name)
	}
	return aggregate(op, e, s.By()), nil
}

// Signals returns the catalog's signals in catalog order.
func (cat *Catalog) Signals() []Signal { return slices.Clone(cat.signals) }

// Aliases returns the label aliases the catalog resolves.
func (cat *Catalog) Aliases() []Alias { return slices.Clone(cat.aliases) }

// Signal returns the named signal.
func (cat *Catalog) Signal(name string) (Signal, error) {
	i, ok := cat.index[name]
	if !ok {
		return Signal{}, fmt.Errorf("%w %q", ErrUnknownSignal, name)
	}
	return cat.signals[i], nil
}

func (cat *Catalog) get(name string) (*compiled, error) {
	c, ok := cat.compiled[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSignal, name)
	}
	return c, nil
}

// Query returns the PromQL producing the signal from raw exporter series: one
// series per subject (the level key plus Extra labels), the best available
// source winning per subject. Use it when servescope's recording rules are
// not present; otherwise select Signal.RecordName().
func (cat *Catalog) Query(name string) (string, error) {
	c, err := cat.get(name)
	if err != nil {
		return "", err
	}
	return c.query, nil
}

// Explain returns, per source in order of preference, the query that
// produces the signal from that source alone. Roll-ups have none.
func (cat *Catalog) Explain(name string) ([]SourceQuery, error) {
	c, err := cat.get(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.sources), nil
}

// RangeCheck returns the query selecting series that break the signal's
// range, with their values unchanged and a label source="<n>" naming the
// source (1-based, as in Explain); "" if the signal has no range.
func (cat *Catalog) RangeCheck(name string) (string, error) {
	c, err := cat.get(name)
	if err != nil {
		return "", err
	}
	return c.check, nil
}

// Quantile returns histogram_quantile(q, <signal query>) for a histogram
// signal, e.g. the p95 TTFT per pod and model.
func (cat *Catalog) Quantile(name string, q float64) (string, error) {
	s, err := cat.Signal(name)
	if err != nil {
		return "", err
	}
	if s.Kind != KindHistogram {
		return "", fmt.Errorf("quantile of %q: not a histogram", name)
	}
	c, err := cat.get(name)
	if err != nil {
		return "", err
	}
	e, err := cat.c.parse("signal "+name, c.query)
	if err != nil {
		return "", err
	}
	return cat.check("quantile", quantileOf(q, e))
}

func quantileOf(q float64, e parser.Expr) parser.Expr {
	return &parser.Call{
		Func: parser.Functions["histogram_quantile"],
		Args: parser.Expressions{&parser.NumberLiteral{Val: q}, e},
	}
}

// quantileSuffix names a quantile in rule names: 0.95 → p95, 0.999 → p999.
func quantileSuffix(q float64) string {
	s := strconv.FormatFloat(q, 'f', -1, 64)
	if len(s) > 2 && s[:2] == "0." {
		s = s[2:]
	}
	if len(s) == 1 {
		s += "0"
	}
	return "p" + s
}

// AvgOverTime wraps a query returned by the catalog in
// avg_over_time((q)[window:step]): the time-weighted view diagnosis and cost
// use over a window, evaluated at the caller's explicit time.
func (cat *Catalog) AvgOverTime(q string, window, step time.Duration) (string, error) {
	e, err := cat.c.parse("query", q)
	if err != nil {
		return "", err
	}
	if _, ok := e.(*parser.BinaryExpr); ok {
		e = &parser.ParenExpr{Expr: e}
	}
	return cat.check("avg_over_time", &parser.Call{
		Func: parser.Functions["avg_over_time"],
		Args: parser.Expressions{&parser.SubqueryExpr{Expr: e, Range: window, Step: step}},
	})
}

// Select returns what to query for a signal: with recorded (servescope's
// rules are evaluated by the backend) the recorded series' name, otherwise
// the full query over raw exporter series. Both yield the same series.
func (cat *Catalog) Select(name string, recorded bool) (string, error) {
	s, err := cat.Signal(name)
	if err != nil {
		return "", err
	}
	if recorded {
		return s.RecordName(), nil
	}
	return cat.Query(name)
}

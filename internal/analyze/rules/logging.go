package rules

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	prules "github.com/prometheus/prometheus/rules"
)

// Messages Prometheus's rule group logs on every failed evaluation, with the
// whole rule (its expression) as an attribute.
var failureMessages = map[string]bool{
	"Evaluating rule failed":       true,
	"Rule sample appending failed": true,
}

// failures remembers each failing rule's last logged error, so that a rule
// failing the same way every interval is logged once, and again only when
// its error changes or it recovers.
type failures struct {
	mu     sync.Mutex
	last   map[string]string // rule key → error last logged
	logger *slog.Logger
}

func newFailures(logger *slog.Logger) *failures {
	return &failures{last: map[string]string{}, logger: logger}
}

func ruleKey(file, group, index, name string) string {
	return file + "\x00" + group + "\x00" + index + "\x00" + name
}

// changed records err for the rule and reports whether it differs from the
// error last logged.
func (f *failures) changed(key, err string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.last[key]; ok && prev == err {
		return false
	}
	f.last[key] = err
	return true
}

// recovered logs the rules of g that failed before and evaluated cleanly
// now.
func (f *failures) recovered(g *prules.Group) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.last) == 0 {
		return
	}
	for i, r := range g.Rules() {
		key := ruleKey(g.File(), g.Name(), strconv.Itoa(i), r.Name())
		if _, failing := f.last[key]; failing && r.LastError() == nil && r.Health() == prules.HealthGood {
			delete(f.last, key)
			f.logger.Info("Rule evaluation recovered", "file", g.File(), "group", g.Name(), "name", r.Name(), "index", i)
		}
	}
}

// evalIteration is the groups' evaluation step: Prometheus's, then the
// recoveries.
func (f *failures) evalIteration(ctx context.Context, g *prules.Group, ts time.Time) {
	prules.DefaultEvalIterationFunc(ctx, g, ts)
	f.recovered(g)
}

// handler passes the rule manager's logs through, except that a rule's
// failure is logged once per change of error, with the rule's name and
// group and without its expression.
type handler struct {
	next slog.Handler
	f    *failures
	// file, group, index and name are the attributes Prometheus attaches
	// to its group and rule loggers.
	file, group, index, name string
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	for _, a := range attrs {
		switch a.Key {
		case "file":
			c.file = a.Value.String()
		case "group":
			c.group = a.Value.String()
		case "index":
			c.index = a.Value.String()
		case "name":
			c.name = a.Value.String()
		}
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if !failureMessages[r.Message] {
		return h.next.Handle(ctx, r)
	}
	var errText string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			errText = a.Value.String()
			return false
		}
		return true
	})
	if !h.f.changed(ruleKey(h.file, h.group, h.index, h.name), errText) {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message+" (logged again when the error changes)", r.PC)
	out.AddAttrs(slog.String("err", errText))
	return h.next.Handle(ctx, out)
}

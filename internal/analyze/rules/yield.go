package rules

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	prules "github.com/prometheus/prometheus/rules"
)

// yielder lets interactive requests go first: before each rule's query it
// calls Options.Yield, which returns once the dashboard's pages in
// progress are served, but never past a quarter of the group's interval
// after the evaluation time, so a group evaluation waits at most that long
// in all and no iteration is missed for it. Every rule is still evaluated
// at its group's evaluation time: what it records does not change, only
// when.
type yielder struct {
	next     prules.QueryFunc
	yield    func(ctx context.Context, deadline time.Time) time.Duration
	interval time.Duration // of groups without a plan (Options.Interval)
	waited   prometheus.Counter
}

// yieldShare is the part of a group's interval its evaluation may wait.
const yieldShare = 4

func newYielder(next prules.QueryFunc, yield func(context.Context, time.Time) time.Duration, interval time.Duration, reg prometheus.Registerer) prules.QueryFunc {
	if yield == nil {
		return next
	}
	y := &yielder{next: next, yield: yield, interval: interval, waited: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "servescope_rule_yield_seconds_total",
		Help: "Seconds rule evaluations waited for dashboard pages in progress before a rule (at most a quarter of the group's interval per evaluation).",
	})}
	if reg != nil {
		reg.MustRegister(y.waited)
	}
	return y.QueryFunc
}

// QueryFunc is the rule manager's query function.
func (y *yielder) QueryFunc(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
	interval := y.interval
	if rc, _ := ctx.Value(readsCtxKey{}).(*readsCtx); rc != nil && rc.rule.group.interval > 0 {
		interval = rc.rule.group.interval
	}
	if d := y.yield(ctx, t.Add(interval/yieldShare)); d > 0 {
		y.waited.Add(d.Seconds())
	}
	return y.next(ctx, q, t)
}

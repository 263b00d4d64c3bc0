package diagnose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/servescope/servescope/internal/analyze/slo"
)

// StateSLOBurn is a model-level state: a latency objective's error budget
// burns fast enough to page or to open a ticket.
const StateSLOBurn State = "slo_burn"

// sloCauses are the pod findings that explain slow requests, most specific
// first, each with what it means for latency.
var sloCauses = []struct {
	state State
	why   string
}{
	{StateKVSaturated, "the KV cache is saturated and requests are preempted"},
	{StateBacklog, "requests queue: throughput is short of demand"},
	{StateHostBound, "the engine waits on the host between steps"},
	{StateTTFTRegression, "time to first token regressed against its baseline"},
}

// objectives evaluates the latency objectives at the report's time and
// adds their statuses and a finding per model whose budget burns fast.
func (d *Diagnoser) objectives(ctx context.Context, r *Report) error {
	if len(d.slo.Objectives) == 0 {
		return nil
	}
	q, ok := d.q.(slo.Querier)
	if !ok {
		return errors.New("diagnose: latency objectives need a querier that answers instant queries")
	}
	st, err := slo.Evaluate(ctx, q, d.cat, d.slo, r.At)
	if err != nil {
		return fmt.Errorf("diagnose: %w", err)
	}
	r.Objectives = st
	r.Findings = append(r.Findings, sloFindings(r, st)...)
	sortFindings(r.Findings)
	return nil
}

// sloFindings is a finding for each objective and model with a burn-rate
// alert firing, its cause taken from the model's pod findings (KV
// saturation and preemption, backlog, host-bound steps, TTFT regression).
func sloFindings(r *Report, statuses []slo.Status) []Finding {
	var out []Finding
	for _, s := range statuses {
		if len(s.Firing) == 0 {
			continue
		}
		b := s.Firing[0]
		burn, _ := s.Burn(b.Long)
		short, _ := s.Burn(b.Short)
		o := s.Objective
		f := Finding{
			Subject: Subject{Level: LevelModel, Cluster: s.Cluster, Model: s.Model}, State: StateSLOBurn,
			Severity: SeverityWarning, Confidence: 0.9, Since: r.At.Add(-b.Short),
			Evidence: []Evidence{
				evidence("slo_burn_rate:"+window(b.Long), "burn", burn, ""),
				evidence("slo_burn_rate:"+window(b.Short), "burn", short, ""),
				evidence("slo_error_ratio:"+window(o.Window), "ratio", s.ErrorRatio, ""),
				evidence("slo_error_budget_remaining", "budget", s.BudgetRemaining, ""),
			},
		}
		if b.Severity == "page" {
			f.Severity = SeverityCritical
		}
		cause, pods := sloCause(r, s)
		f.Summary = fmt.Sprintf("Objective %s (%s) burns its error budget %.1f× over %s and %.1f× over %s (%s: %g×); %.0f%% of the budget is left.",
			o.Name, o, burn, window(b.Long), short, window(b.Short), b.Severity, b.Factor, 100*s.BudgetRemaining)
		if cause == nil {
			f.Summary += " No detector explains it (KV saturation, backlog, preemption): look at the arrival rate and prompt lengths."
			f.Action = "Check the request mix and arrivals for this model; if they grew, add replicas."
			f.Confidence = 0.6
		} else {
			f.Summary += fmt.Sprintf(" Cause: %s on %s.", cause.why, strings.Join(pods, ", "))
			f.Action = "Fix the cause first (see the " + string(cause.state) + " findings of these pods), then watch the burn rate fall."
		}
		out = append(out, f)
	}
	return out
}

// sloCause returns the first cause among the model's pod findings and the
// pods that have it.
func sloCause(r *Report, s slo.Status) (*struct {
	state State
	why   string
}, []string) {
	for i := range sloCauses {
		c := &sloCauses[i]
		var pods []string
		for _, f := range r.Findings {
			sub := f.Subject
			if f.State == c.state && sub.Level == LevelPod && sub.Model == s.Model && sub.Cluster == s.Cluster && !slices.Contains(pods, sub.String()) {
				pods = append(pods, sub.String())
			}
		}
		if len(pods) > 0 {
			slices.Sort(pods)
			return c, pods
		}
	}
	return nil, nil
}

func window(d time.Duration) string { return slo.WindowName(d) }

// WithObjectives returns the Diagnoser evaluating the latency objectives s
// too (see Options.Objectives).
func (d *Diagnoser) WithObjectives(s slo.Set) *Diagnoser {
	c := *d
	c.slo = s
	return &c
}

package rules

import (
	"time"

	prules "github.com/prometheus/prometheus/rules"
)

// GroupStatus is one rule group's state, in plain types for the API.
type GroupStatus struct {
	Name           string
	File           string
	Interval       time.Duration
	Rules          []RuleStatus
	EvaluationTime time.Duration
	LastEvaluation time.Time
}

// RuleStatus is one rule's state.
type RuleStatus struct {
	// Type is "alerting" or "recording".
	Type           string
	Name           string
	Query          string
	Duration       time.Duration // an alerting rule's for:
	Labels         map[string]string
	Annotations    map[string]string
	Health         string
	LastError      string
	EvaluationTime time.Duration
	LastEvaluation time.Time
	// State is the alerting rule's most severe alert state: inactive,
	// pending or firing.
	State  string
	Alerts []AlertStatus
}

// AlertStatus is one active alert of an alerting rule.
type AlertStatus struct {
	Labels      map[string]string
	Annotations map[string]string
	State       string
	ActiveAt    time.Time
	Value       float64
}

// Status reports every group in configuration order: the running groups
// once Run has started, else the ones EvalAt evaluates.
func (m *Manager) Status() []GroupStatus {
	m.mu.Lock()
	groups := m.groups
	running := m.running
	m.mu.Unlock()
	if running {
		groups = m.m.RuleGroups()
	}
	out := make([]GroupStatus, 0, len(groups))
	for _, g := range groups {
		gs := GroupStatus{Name: g.Name(), File: g.File(), Interval: g.Interval(),
			EvaluationTime: g.GetEvaluationTime(), LastEvaluation: g.GetLastEvaluation()}
		for _, r := range g.Rules() {
			rs := RuleStatus{Name: r.Name(), Query: r.Query().String(), Labels: r.Labels().Map(),
				Health: string(r.Health()), EvaluationTime: r.GetEvaluationDuration(), LastEvaluation: r.GetEvaluationTimestamp(), Type: "recording"}
			if err := r.LastError(); err != nil {
				rs.LastError = err.Error()
			}
			if a, ok := r.(*prules.AlertingRule); ok {
				rs.Type = "alerting"
				rs.Duration = a.HoldDuration()
				rs.Annotations = a.Annotations().Map()
				rs.State = a.State().String()
				for _, al := range a.ActiveAlerts() {
					rs.Alerts = append(rs.Alerts, AlertStatus{Labels: al.Labels.Map(), Annotations: al.Annotations.Map(),
						State: al.State.String(), ActiveAt: al.ActiveAt, Value: al.Value})
				}
			}
			gs.Rules = append(gs.Rules, rs)
		}
		out = append(out, gs)
	}
	return out
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/servescope/servescope/internal/analyze/rules"
)

// RuleSource reports the rule manager's groups.
type RuleSource interface {
	Status() []rules.GroupStatus
}

type ruleGroupJSON struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type alertingRuleJSON struct {
	State          string            `json:"state"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Duration       float64           `json:"duration"`
	KeepFiringFor  float64           `json:"keepFiringFor"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	Alerts         []alertJSON       `json:"alerts"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

type recordingRuleJSON struct {
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Labels         map[string]string `json:"labels,omitempty"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError,omitempty"`
	EvaluationTime float64           `json:"evaluationTime"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Type           string            `json:"type"`
}

type alertJSON struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"activeAt,omitempty"`
	Value       string            `json:"value"`
}

func alertsOf(r rules.RuleStatus) []alertJSON {
	out := []alertJSON{}
	for _, a := range r.Alerts {
		at := a.ActiveAt
		out = append(out, alertJSON{Labels: orEmpty(a.Labels), Annotations: orEmpty(a.Annotations), State: a.State, ActiveAt: &at,
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64)})
	}
	return out
}

// orEmpty makes a nil label map {} in JSON, as Prometheus's empty label
// sets are.
func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// HandleRules serves /api/v1/rules and /api/v1/alerts from src, in the
// shape of Prometheus's API (Grafana's alert views read them). In
// external mode (Options.Backend) they are the backend's already and src
// is not read.
func (a *API) HandleRules(src RuleSource) {
	if a.opts.Backend != nil {
		return
	}
	a.handle("/api/v1/rules", func(r *http.Request) (any, []string, []string, error) {
		typ := r.FormValue("type")
		groups := []ruleGroupJSON{}
		for _, g := range src.Status() {
			gj := ruleGroupJSON{Name: g.Name, File: g.File, Rules: []any{}, Interval: g.Interval.Seconds(),
				EvaluationTime: g.EvaluationTime.Seconds(), LastEvaluation: g.LastEvaluation}
			for _, rs := range g.Rules {
				switch {
				case rs.Type == "alerting" && (typ == "" || typ == "alert"):
					gj.Rules = append(gj.Rules, alertingRuleJSON{State: rs.State, Name: rs.Name, Query: rs.Query,
						Duration: rs.Duration.Seconds(), Labels: orEmpty(rs.Labels), Annotations: orEmpty(rs.Annotations), Alerts: alertsOf(rs),
						Health: rs.Health, LastError: rs.LastError, EvaluationTime: rs.EvaluationTime.Seconds(),
						LastEvaluation: rs.LastEvaluation, Type: "alerting"})
				case rs.Type == "recording" && (typ == "" || typ == "record"):
					gj.Rules = append(gj.Rules, recordingRuleJSON{Name: rs.Name, Query: rs.Query, Labels: rs.Labels,
						Health: rs.Health, LastError: rs.LastError, EvaluationTime: rs.EvaluationTime.Seconds(),
						LastEvaluation: rs.LastEvaluation, Type: "recording"})
				}
			}
			if len(gj.Rules) > 0 || typ == "" {
				groups = append(groups, gj)
			}
		}
		return map[string]any{"groups": groups}, nil, nil, nil
	})
	a.handle("/api/v1/alerts", func(*http.Request) (any, []string, []string, error) {
		alerts := []alertJSON{}
		for _, g := range src.Status() {
			for _, rs := range g.Rules {
				alerts = append(alerts, alertsOf(rs)...)
			}
		}
		return map[string]any{"alerts": alerts}, nil, nil, nil
	})
}

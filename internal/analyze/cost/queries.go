package cost

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/servescope/servescope/internal/schema"
)

// Queries are built as syntax trees from parsed selectors and printed by
// Prometheus's printer; no query text is formatted. The alternative
// spellings of namespace and pod (exported_namespace / exported_pod with
// honor_labels false, the 1.x pod_namespace / pod_name) are kept in the
// grouping and resolved per series in Go (see podOf): a label_replace
// chain would build a new label set per series and step, which costs more
// than the rest of a 30-day report.

// gpuResources matches kube-state-metrics' sanitized GPU resources: whole
// GPUs and MIG slices (nvidia_com_mig_1g_10gb).
const gpuResources = `nvidia_com_gpu|nvidia_com_mig_.+`

// kueueGPUResources matches Kueue's raw resource names.
const kueueGPUResources = `nvidia[.]com/(gpu|mig-.+)`

// queries are the compiled queries of one Calculator.
type queries struct {
	requests  string // GPUs requested by pods: namespace, pod, uid, node, resource
	running   string // pods in phase Running: namespace, pod, uid
	podLabels string // pod team and queue labels: namespace, pod, team, cluster_queue, local_queue
	nsTeam    string // namespace → team (the catalog's namespace_team)
	nodes     string // node → GPU product and Kueue flavor
	alloc     string // allocatable GPUs per node and resource
	busy      string // Σ busy per pod and MIG profile (profiling field)
	busyUtil  string // the same from GPU_UTIL, for exporters without profiling
	lqUsage   string // Kueue LocalQueue usage: namespace, name, flavor, resource
	cqUsage   string // Kueue ClusterQueue usage: cluster_queue, flavor, resource
	quota     string // Kueue nominal quota: cluster_queue, cohort, flavor, resource
	cqReserve string // Kueue ClusterQueue reservation: cluster_queue, cohort, flavor, resource
	cards     string // physical GPUs per node: hostname (distinct dcgm-exporter uuids)
	energy    string // the catalog's gpu_energy_joules
	// promptTok and genTok are the catalog's token rates per pod and
	// model_name, over every engine.
	promptTok, genTok string
	// serving is the catalog's requests_running (which pods serve which
	// models); computedTok, cachedTok, transferTok its prompt tokens by
	// how they were served.
	serving, computedTok, cachedTok, transferTok string
	teamLabel                                    string // kube-state-metrics' name of the team label (label_team)
	queueLabel                                   string // label_kueue_x_k8s_io_cluster_queue_name
	lqLabel                                      string // label_kueue_x_k8s_io_local_queue_name
}

type builder struct{ p parser.Parser }

func (b builder) sel(q string) (parser.Expr, error) {
	e, err := b.p.ParseExpr(q)
	if err != nil {
		return nil, fmt.Errorf("parse selector %q: %w", q, err)
	}
	return e, nil
}

// nsLabels are the spellings of namespace, in order of preference.
func nsLabels() []string { return []string{"exported_namespace", "pod_namespace", "namespace"} }

// podLabels are the spellings of pod, in order of preference.
func podLabels() []string { return []string{"exported_pod", "pod_name", "pod"} }

// withAliases is by plus the spellings of namespace (and pod).
func withAliases(podToo bool, by ...string) []string {
	out := nsLabels()
	if podToo {
		out = append(out, podLabels()...)
	}
	return append(out, by...)
}

func agg(op parser.ItemType, e parser.Expr, by ...string) parser.Expr {
	return &parser.AggregateExpr{Op: op, Expr: e, Grouping: by}
}

// ksmLabelName is kube-state-metrics' name for a Kubernetes label key
// (team.example.com/owner → label_team_example_com_owner).
func ksmLabelName(key string) string {
	var b strings.Builder
	b.WriteString("label_")
	prevLowerOrDigit := false
	for _, r := range key {
		switch {
		case r >= 'A' && r <= 'Z':
			if prevLowerOrDigit {
				b.WriteByte('_')
			}
			b.WriteRune(r - 'A' + 'a')
			prevLowerOrDigit = false
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			prevLowerOrDigit = true
		case r == '_':
			b.WriteRune(r)
			prevLowerOrDigit = false
		default:
			b.WriteByte('_')
			prevLowerOrDigit = false
		}
	}
	return b.String()
}

// buildQueries compiles the cost queries for the team label key.
func buildQueries(cat *schema.Catalog, teamKey string) (*queries, error) {
	b := builder{p: parser.NewParser(parser.Options{})}
	q := &queries{
		teamLabel:  ksmLabelName(teamKey),
		queueLabel: "label_kueue_x_k8s_io_cluster_queue_name",
		lqLabel:    "label_kueue_x_k8s_io_local_queue_name",
	}
	var err error
	if q.nsTeam, err = cat.Query("namespace_team"); err != nil {
		return nil, fmt.Errorf("cost queries: %w", err)
	}
	if q.energy, err = cat.Query("gpu_energy_joules"); err != nil {
		return nil, fmt.Errorf("cost queries: %w", err)
	}
	if q.promptTok, err = cat.Query("prompt_tokens_per_second"); err != nil {
		return nil, fmt.Errorf("cost queries: %w", err)
	}
	if q.genTok, err = cat.Query("generation_tokens_per_second"); err != nil {
		return nil, fmt.Errorf("cost queries: %w", err)
	}
	for _, s := range []struct {
		dst    *string
		signal string
	}{
		{&q.serving, "requests_running"}, {&q.computedTok, "prompt_tokens_computed_per_second"},
		{&q.cachedTok, "prompt_tokens_cached_per_second"}, {&q.transferTok, "prompt_tokens_transferred_per_second"},
	} {
		if *s.dst, err = cat.Query(s.signal); err != nil {
			return nil, fmt.Errorf("cost queries: %w", err)
		}
	}
	if q.cards, err = cardsQuery(b, cat); err != nil {
		return nil, fmt.Errorf("cost queries: %w", err)
	}
	type spec struct {
		dst   *string
		build func() (parser.Expr, error)
	}
	one := func(sel string, podToo bool, op parser.ItemType, by ...string) func() (parser.Expr, error) {
		return func() (parser.Expr, error) {
			e, err := b.sel(sel)
			if err != nil {
				return nil, err
			}
			if podToo {
				by = withAliases(true, by...)
			}
			return agg(op, e, by...), nil
		}
	}
	specs := []spec{
		// Requests and phase are joined per pod in Go: a PromQL join
		// would match label sets at every step of a 30-day window.
		{&q.requests, one(`kube_pod_container_resource_requests{resource=~"`+gpuResources+`",node!=""}`, true, parser.SUM, "uid", "node", "resource")},
		{&q.running, func() (parser.Expr, error) {
			phase, err := b.sel(`kube_pod_status_phase{phase="Running"}`)
			if err != nil {
				return nil, err
			}
			running := &parser.BinaryExpr{Op: parser.EQLC, LHS: phase, RHS: &parser.NumberLiteral{Val: 1}}
			return agg(parser.MAX, running, withAliases(true, "uid")...), nil
		}},
		{&q.podLabels, one(`kube_pod_labels`, true, parser.MAX, q.teamLabel, q.queueLabel, q.lqLabel)},
		{&q.nodes, one(`kube_node_labels`, false, parser.MAX, "node", "label_nvidia_com_gpu_product", "label_kueue_flavor")},
		{&q.alloc, one(`kube_node_status_allocatable{resource=~"`+gpuResources+`"}`, false, parser.SUM, "node", "resource")},
		{&q.busy, one(`DCGM_FI_PROF_GR_ENGINE_ACTIVE`, true, parser.SUM, "GPU_I_PROFILE")},
		{&q.busyUtil, func() (parser.Expr, error) {
			util, err := b.sel(`DCGM_FI_DEV_GPU_UTIL`)
			if err != nil {
				return nil, err
			}
			return &parser.BinaryExpr{Op: parser.DIV, LHS: agg(parser.SUM, util, withAliases(true, "GPU_I_PROFILE")...), RHS: &parser.NumberLiteral{Val: 100}}, nil
		}},
		{&q.lqUsage, one(`kueue_local_queue_resource_usage{resource=~"`+kueueGPUResources+`",replica_role!="follower"}`, false, parser.SUM, withAliases(false, "name", "flavor", "resource")...)},
		{&q.cqUsage, one(`kueue_cluster_queue_resource_usage{resource=~"`+kueueGPUResources+`",replica_role!="follower"}`, false, parser.SUM, "cluster_queue", "flavor", "resource")},
		{&q.quota, one(`kueue_cluster_queue_nominal_quota{resource=~"`+kueueGPUResources+`",replica_role!="follower"}`, false, parser.SUM, "cluster_queue", "cohort", "flavor", "resource")},
		{&q.cqReserve, one(`kueue_cluster_queue_resource_reservation{resource=~"`+kueueGPUResources+`",replica_role!="follower"}`, false, parser.SUM, "cluster_queue", "cohort", "flavor", "resource")},
	}
	for _, s := range specs {
		e, err := s.build()
		if err != nil {
			return nil, fmt.Errorf("cost queries: %w", err)
		}
		text := e.String()
		if _, err := b.p.ParseExpr(text); err != nil {
			return nil, fmt.Errorf("cost queries: reparse %q: %w", text, err)
		}
		*s.dst = text
	}
	return q, nil
}

// cardsQuery counts the physical GPUs of each node: the distinct GPU
// UUIDs dcgm-exporter reports under a hostname, MIG instances of one card
// sharing its UUID. It wraps the catalog's gpu_power_watts, which every
// card and MIG instance reports.
func cardsQuery(b builder, cat *schema.Catalog) (string, error) {
	pq, err := cat.Query("gpu_power_watts")
	if err != nil {
		return "", err
	}
	e, err := b.sel(pq)
	if err != nil {
		return "", err
	}
	return agg(parser.COUNT, agg(parser.COUNT, e, "hostname", "uuid"), "hostname").String(), nil
}

// migWeight is the share of a whole GPU one unit of a resource or MIG
// profile is: the catalog's weighting (schema.MIGWeight), the one every
// surface uses.
func migWeight(s string) float64 { return schema.MIGWeight(s) }

// Queries returns the text of every query the cost calculator for the
// team label key runs, for listing the series cost reads.
func Queries(cat *schema.Catalog, teamKey string) ([]string, error) {
	q, err := buildQueries(cat, teamKey)
	if err != nil {
		return nil, err
	}
	return []string{q.requests, q.running, q.podLabels, q.nsTeam, q.nodes, q.alloc, q.busy, q.busyUtil, q.lqUsage, q.cqUsage, q.quota, q.cqReserve, q.cards}, nil
}

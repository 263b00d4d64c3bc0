package schema

// lqName maps Kueue's LocalQueue `name` label to local_queue.
func lqName() []Alias { return []Alias{{Canonical: "local_queue", From: []string{"name"}}} }

// lqToCQ is the fallback for ClusterQueue resource metrics, which Kueue only
// emits with metrics.enableClusterQueueResources (off by default): expr sums
// a LocalQueue metric (on by default since 0.17) into the ClusterQueue its
// pods name in kube-state-metrics pod labels.
func lqToCQ(expr string) Source {
	return Source{
		Exporter: "kueue", Versions: "LocalQueueMetrics + kube-state-metrics pod queue labels", Expr: expr, Relabel: lqName(),
		Note: "LocalQueues summed into their ClusterQueue; a LocalQueue without running pods has no mapping",
	}
}

// queueSignals are per ClusterQueue; the resource ones need Kueue's
// metrics.enableClusterQueueResources. Kueue reports GPUs under raw
// resource names: whole GPUs as nvidia.com/gpu and MIG slices as
// nvidia.com/mig-<profile>, read here in GPU-equivalents (gpuEquivalents).
func queueSignals() []Signal {
	return []Signal{
		{
			Name: "queue_pending_workloads", Help: "Workloads pending in the ClusterQueue (active and inadmissible).",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "all", Expr: `kueue_pending_workloads`}},
		},
		{
			Name: "queue_admitted_workloads", Help: "Admitted, still active workloads in the ClusterQueue.",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "all", Expr: `kueue_admitted_active_workloads`}},
		},
		{
			Name: "queue_evicted_workloads_per_second", Help: "Workloads evicted from the ClusterQueue per second, by reason.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelQueue, Agg: AggSum, Extra: []string{"reason"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "all", Expr: `rate(kueue_evicted_workloads_total[5m])`}},
		},
		{
			Name: "queue_preempted_workloads_per_second", Help: "Workloads preempted per second by workloads of the ClusterQueue, by reason.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelQueue, Agg: AggSum, Extra: []string{"reason"}, Range: NonNegative(),
			Sources: []Source{{
				Exporter: "kueue", Versions: "all", Expr: `rate(kueue_preempted_workloads_total[5m])`,
				Relabel: []Alias{{Canonical: "cluster_queue", From: []string{"preempting_cluster_queue"}}},
				Note:    "keyed by the preempting ClusterQueue",
			}},
		},
		{
			Name: "queue_reserved_gpus", Help: "GPU-equivalents of the ClusterQueue's admitted workloads (Kueue quota reservation), per flavor; MIG slices at their share of a card.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: "kueue", Versions: "enableClusterQueueResources", Expr: gpuEquivalents("kueue_cluster_queue_resource_reservation")},
				lqToCQ("(" + gpuEquivalents("kueue_local_queue_resource_reservation") + `) * on (namespace, local_queue) group_left (cluster_queue) group by (namespace, local_queue, cluster_queue) (label_replace(label_replace(kube_pod_labels{label_kueue_x_k8s_io_cluster_queue_name!=""}, "local_queue", "$1", "label_kueue_x_k8s_io_local_queue_name", "(.+)"), "cluster_queue", "$1", "label_kueue_x_k8s_io_cluster_queue_name", "(.+)"))`),
			},
		},
		{
			Name: "queue_used_gpus", Help: "GPU-equivalents allocated to the ClusterQueue's admitted workloads (Kueue usage), per flavor; MIG slices at their share of a card.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: "kueue", Versions: "enableClusterQueueResources", Expr: gpuEquivalents("kueue_cluster_queue_resource_usage")},
				lqToCQ("(" + gpuEquivalents("kueue_local_queue_resource_usage") + `) * on (namespace, local_queue) group_left (cluster_queue) group by (namespace, local_queue, cluster_queue) (label_replace(label_replace(kube_pod_labels{label_kueue_x_k8s_io_cluster_queue_name!=""}, "local_queue", "$1", "label_kueue_x_k8s_io_local_queue_name", "(.+)"), "cluster_queue", "$1", "label_kueue_x_k8s_io_cluster_queue_name", "(.+)"))`),
			},
		},
		{
			Name: "queue_nominal_quota_gpus", Help: "Reserved: the ClusterQueue's nominal GPU quota in GPU-equivalents, per flavor; MIG slices at their share of a card.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "enableClusterQueueResources", Expr: gpuEquivalents("kueue_cluster_queue_nominal_quota")}},
		},
	}
}

// namespaceSignals are per namespace: Kueue LocalQueue metrics (gate
// LocalQueueMetrics, on by default since 0.17), with kube-state-metrics
// fallbacks, and the namespace → team map.
func namespaceSignals() []Signal {
	lq := []string{"local_queue"}
	lqFlavor := []string{"local_queue", "flavor"}
	return []Signal{
		{
			Name: "namespace_pending_workloads", Help: "Workloads pending in the namespace's LocalQueues.",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelNamespace, Agg: AggSum, Extra: lq, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "LocalQueueMetrics", Expr: `kueue_local_queue_pending_workloads`, Relabel: lqName()}},
		},
		{
			Name: "namespace_admitted_workloads", Help: "Admitted, still active workloads in the namespace's LocalQueues.",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelNamespace, Agg: AggSum, Extra: lq, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "LocalQueueMetrics", Expr: `kueue_local_queue_admitted_active_workloads`, Relabel: lqName()}},
		},
		{
			Name: "namespace_evicted_workloads_per_second", Help: "Workloads evicted from the namespace's LocalQueues per second, by reason.",
			Unit: UnitPerSecond, Kind: KindRate, Level: LevelNamespace, Agg: AggSum, Extra: []string{"local_queue", "reason"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "LocalQueueMetrics", Expr: `rate(kueue_local_queue_evicted_workloads_total[5m])`, Relabel: lqName()}},
		},
		{
			Name: "namespace_reserved_gpus", Help: "GPU-equivalents of the namespace's admitted workloads (Kueue quota reservation), per flavor.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelNamespace, Agg: AggSum, Extra: lqFlavor, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "LocalQueueMetrics", Expr: gpuEquivalents("kueue_local_queue_resource_reservation"), Relabel: lqName()}},
		},
		{
			Name: "namespace_used_gpus", Help: "GPUs held by the namespace's admitted workloads (Kueue), else by its running pods (kube-state-metrics).",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelNamespace, Agg: AggSum, Extra: lqFlavor, Range: NonNegative(), DedupeOnKey: true,
			Sources: []Source{
				{Exporter: "kueue", Versions: "LocalQueueMetrics", Expr: gpuEquivalents("kueue_local_queue_resource_usage"), Relabel: lqName()},
				{
					Exporter: "kube-state-metrics", Versions: "v2",
					Expr: `kube_pod_container_resource_requests{resource="nvidia_com_gpu",node!=""} * on (namespace, pod) group_left () (kube_pod_status_phase{phase="Running"} == 1)`,
					Note: "requests of running pods; no local_queue or flavor",
				},
			},
		},
		{
			Name: "namespace_team", Help: "Topology: the team owning each namespace (value 1), from the namespace label team.",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelNamespace, Agg: AggInfo, Extra: []string{"team"},
			Sources: []Source{{
				Exporter: "kube-state-metrics", Versions: "v2 with --metric-labels-allowlist=namespaces=[team]",
				Expr: `label_replace(kube_namespace_labels{label_team!=""}, "team", "$1", "label_team", "(.+)")`,
				Note: "since v2.10 the family is absent without an allowlist",
			}},
		},
		{
			Name: "pod_queue", Help: "Topology: the Kueue LocalQueue and ClusterQueue of each pod (value 1).",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelPod, Agg: AggInfo, Key: []string{"namespace", "pod"}, Extra: []string{"local_queue", "cluster_queue"},
			Sources: []Source{
				{
					Exporter: "kube-state-metrics", Versions: "v2, Kueue ≥0.17 (AssignQueueLabelsForPods)",
					Expr: `label_replace(label_replace(kube_pod_labels{label_kueue_x_k8s_io_local_queue_name!=""}, "local_queue", "$1", "label_kueue_x_k8s_io_local_queue_name", "(.+)"), "cluster_queue", "$1", "label_kueue_x_k8s_io_cluster_queue_name", "(.+)")`,
					Note: "needs --metric-labels-allowlist=pods=[kueue.x-k8s.io/local-queue-name,kueue.x-k8s.io/cluster-queue-name]",
				},
				{
					Exporter: "kube-state-metrics", Versions: "v2, any Kueue (job queue-name label)",
					Expr: `label_replace(kube_pod_labels{label_kueue_x_k8s_io_queue_name!=""}, "local_queue", "$1", "label_kueue_x_k8s_io_queue_name", "(.+)")`,
					Note: "no ClusterQueue",
				},
			},
		},
	}
}

// teamSignals roll lower-level signals up to teams through the topology
// join (GPU → pod → namespace → team, ClusterQueue → team). Where both exist,
// per-namespace LocalQueue figures win over ClusterQueue ones, which a
// ClusterQueue shared by several teams gives to each of them in full.
func teamSignals() []Signal {
	team := func(name, help string, unit Unit, kind Kind, agg Aggregation, from ...string) Signal {
		return Signal{Name: name, Help: help, Unit: unit, Kind: kind, Level: LevelTeam, Agg: agg, From: from}
	}
	gpuTeam := team("gpu_team", "Topology: GPU → pod → namespace → team (value 1).", UnitInfo, KindInfo, AggInfo, "gpu_pod")
	gpuTeam.Extra = []string{"namespace", "pod", "hostname", "uuid", "GPU_I_ID"}
	queueTeam := team("queue_team", "Topology: the teams whose pods a ClusterQueue admits (value 1).", UnitInfo, KindInfo, AggInfo, "pod_queue")
	queueTeam.Extra = []string{"cluster_queue"}
	return []Signal{
		gpuTeam,
		queueTeam,
		team("team_reserved_gpus", "GPU-equivalents admitted by the team's queues (Kueue quota reservation; the glossary's admitted).", UnitGPUs, KindGauge, AggSum, "namespace_reserved_gpus", "queue_reserved_gpus"),
		team("team_used_gpus", "GPUs held by the team's workloads.", UnitGPUs, KindGauge, AggSum, "namespace_used_gpus", "queue_used_gpus"),
		team("team_nominal_quota_gpus", "Nominal GPU quota of the team's ClusterQueues.", UnitGPUs, KindGauge, AggSum, "queue_nominal_quota_gpus"),
		team("team_pending_workloads", "Workloads pending in the team's queues.", UnitWorkloads, KindGauge, AggSum, "namespace_pending_workloads", "queue_pending_workloads"),
		team("team_admitted_workloads", "Admitted, active workloads in the team's queues.", UnitWorkloads, KindGauge, AggSum, "namespace_admitted_workloads", "queue_admitted_workloads"),
		team("team_evicted_workloads_per_second", "Workloads evicted from the team's queues per second.", UnitPerSecond, KindRate, AggSum, "namespace_evicted_workloads_per_second", "queue_evicted_workloads_per_second"),
		team("team_preempted_workloads_per_second", "Workloads preempted per second by the team's ClusterQueues.", UnitPerSecond, KindRate, AggSum, "queue_preempted_workloads_per_second"),
		team("team_gpu_busy_ratio", "Mean busy ratio of the GPUs held by the team's pods.", UnitRatio, KindRatio, AggAvg, "gpu_busy_ratio"),
		team("team_requests_waiting", "Requests waiting in the team's engine pods.", UnitRequests, KindGauge, AggSum, "requests_waiting"),
	}
}

// aliases are the label spellings resolved in one place.
func aliases() []Alias {
	return []Alias{
		{Canonical: "pod", From: []string{"exported_pod", "pod_name"}},
		{Canonical: "namespace", From: []string{"exported_namespace", "pod_namespace"}},
		{Canonical: "container", From: []string{"exported_container", "container_name"}, Levels: []Level{LevelGPU}},
		{Canonical: "uuid", From: []string{"UUID"}, Levels: []Level{LevelGPU}},
		{Canonical: "hostname", From: []string{"Hostname"}, Levels: []Level{LevelGPU}},
	}
}

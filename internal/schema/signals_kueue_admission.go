package schema

// Kueue's admission story: how long work waits for quota, why it is not
// admitted, who may borrow or lend, and how long admitted work takes to
// become ready. Names, types and labels are those of Kueue's
// pkg/metrics/metrics.go at the tags in each source's Versions
// (kubernetes-sigs/kueue v0.13.0 … v0.19.0); a version without the metric
// has no series, and the views say "not reported", never 0.

// kueueRef cites where the metric is defined.
const kueueRef = "kubernetes-sigs/kueue pkg/metrics/metrics.go"

// admissionSignals are the ClusterQueue, LocalQueue and cohort signals of
// admission, borrowing and readiness.
func admissionSignals() []Signal {
	lqFrom := lqName()
	return []Signal{
		{
			Name: "queue_admission_wait_seconds", Help: "Time from a workload's creation or requeue to its admission, per ClusterQueue: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelQueue, Agg: AggBuckets, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13 (label priority_class from 0.14)", Expr: `rate(kueue_admission_wait_time_seconds_bucket[5m])`,
				Note: kueueRef + " AdmissionWaitTime; observed at admission only: a workload never admitted adds nothing"}},
		},
		{
			Name: "queue_admission_wait_by_priority_seconds", Help: "Admission wait per ClusterQueue and WorkloadPriorityClass: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelQueue, Agg: AggBuckets, Extra: []string{"priority_class"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.14", Expr: `rate(kueue_admission_wait_time_seconds_bucket{priority_class!=""}[5m])`,
				Note: kueueRef + " AdmissionWaitTime; 0.13 named the label workload_priority_class"}},
		},
		{
			Name: "namespace_admission_wait_seconds", Help: "Admission wait per LocalQueue: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelNamespace, Agg: AggBuckets, Extra: []string{"local_queue"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13, LocalQueueMetrics (on by default since 0.17)", Expr: `rate(kueue_local_queue_admission_wait_time_seconds_bucket[5m])`, Relabel: lqFrom,
				Note: kueueRef + " LocalQueueAdmissionWaitTime"}},
		},
		{
			Name: "queue_pending_workloads_by_status", Help: "Workloads pending in the ClusterQueue, by status: active (may be admitted when quota frees) or inadmissible (cannot be, as things stand).",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"status"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "all", Expr: `kueue_pending_workloads`, Note: kueueRef + " PendingWorkloads{cluster_queue,status}"}},
		},
		{
			Name: "queue_pending_gpus", Help: "GPU-equivalents asked for by the ClusterQueue's pending workloads and not admitted (no flavor yet).",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.18", Expr: gpuEquivalents("kueue_cluster_queue_resource_pending"),
				Note: kueueRef + " ClusterQueueResourcePending{cluster_queue,resource}; absent before v0.18.0"}},
		},
		{
			Name: "queue_unadmitted_workloads", Help: "Workloads of the ClusterQueue not admitted, by reason (Admitted condition) and underlying cause (QuotaReserved condition, e.g. WaitingForQuota).",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"reason", "underlying_cause"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.19 (UnadmittedWorkloadsObservability, beta, on by default)", Expr: `kueue_unadmitted_workloads`,
				Note: kueueRef + " UnadmittedWorkloads; absent before v0.19.0"}},
		},
		{
			Name: "namespace_unadmitted_workloads", Help: "Workloads of the namespace's LocalQueues not admitted, by ClusterQueue, reason and underlying cause.",
			Unit: UnitWorkloads, Kind: KindGauge, Level: LevelNamespace, Agg: AggSum, Extra: []string{"local_queue", "cluster_queue", "reason", "underlying_cause"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.19, LocalQueueMetrics", Expr: `kueue_local_queue_unadmitted_workloads`, Relabel: lqFrom,
				Note: kueueRef + " LocalQueueUnadmittedWorkloads; absent before v0.19.0"}},
		},
		{
			Name: "queue_borrowing_limit_gpus", Help: "GPU-equivalents the ClusterQueue may borrow from its cohort above its nominal quota, per flavor; +Inf when unset.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "enableClusterQueueResources", Expr: gpuEquivalents("kueue_cluster_queue_borrowing_limit"),
				Note: kueueRef + " ClusterQueueResourceBorrowingLimit; +Inf when the queue sets no limit"}},
		},
		{
			Name: "queue_lending_limit_gpus", Help: "GPU-equivalents of the ClusterQueue's nominal quota its cohort may borrow, per flavor; +Inf when unset.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "enableClusterQueueResources", Expr: gpuEquivalents("kueue_cluster_queue_lending_limit"),
				Note: kueueRef + " ClusterQueueResourceLendingLimit; +Inf when the queue sets no limit"}},
		},
		{
			Name: "queue_cohort", Help: "Topology: the parent and root cohort of each ClusterQueue (value 1).",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelQueue, Agg: AggInfo, Extra: []string{"parent_cohort", "root_cohort"},
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.18 (MetricsForCohorts)", Expr: `kueue_cluster_queue_info`, Note: kueueRef + " ClusterQueueInfo; absent before v0.18.0"}},
		},
		{
			Name: "cohort_subtree_quota_gpus", Help: "GPU-equivalents of nominal quota in the cohort's subtree, per flavor.",
			Unit: UnitGPUs, Kind: KindGauge, Level: LevelQueue, Key: []string{"cohort"}, Agg: AggSum, Extra: []string{"flavor"}, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.17", Expr: gpuEquivalents("kueue_cohort_subtree_quota"), Note: kueueRef + " CohortSubtreeQuota; absent before v0.17.0"}},
		},
		{
			Name: "queue_weighted_share", Help: "Fair sharing: the ClusterQueue's largest ratio of usage above nominal quota to the cohort's lendable resources, divided by its weight.",
			Unit: UnitRatio, Kind: KindGauge, Level: LevelQueue, Agg: AggMax, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13, enableClusterQueueResources and fair sharing", Expr: `kueue_cluster_queue_weighted_share`,
				Note: kueueRef + " ClusterQueueWeightedShare (label cohort from 0.15)"}},
		},
		{
			Name: "cohort_weighted_share", Help: "Fair sharing: the cohort's largest ratio of usage above nominal quota to its parent's lendable resources, divided by its weight.",
			Unit: UnitRatio, Kind: KindGauge, Level: LevelQueue, Key: []string{"cohort"}, Agg: AggMax, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13, fair sharing", Expr: `kueue_cohort_weighted_share`, Note: kueueRef + " CohortWeightedShare"}},
		},
		{
			Name: "queue_ready_wait_seconds", Help: "Time from a workload's creation or requeue until its pods are ready, per ClusterQueue: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelQueue, Agg: AggBuckets, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13 with waitForPodsReady", Expr: `rate(kueue_ready_wait_time_seconds_bucket[5m])`,
				Note: kueueRef + " ReadyWaitTime; only with waitForPodsReady enabled"}},
		},
		{
			Name: "queue_admitted_until_ready_seconds", Help: "Time from a workload's admission until its pods are ready (image pulls, node provisioning), per ClusterQueue: per-second rate of histogram buckets (le kept).",
			Unit: UnitSeconds, Kind: KindHistogram, Level: LevelQueue, Agg: AggBuckets, Range: NonNegative(),
			Sources: []Source{{Exporter: "kueue", Versions: "≥0.13 with waitForPodsReady", Expr: `rate(kueue_admitted_until_ready_wait_time_seconds_bucket[5m])`,
				Note: kueueRef + " AdmittedUntilReadyWaitTime; only with waitForPodsReady enabled"}},
		},
	}
}

package schema

// gpuExtra are the labels GPU signals keep besides the GPU key: the
// device index, the model and, on a MIG slice, its profile (e.g.
// "3g.40gb"; dcgm-exporter's GPU_I_PROFILE), which names the kind of slice.
func gpuExtra() []string { return []string{"gpu", "modelName", "GPU_I_PROFILE"} }

// gpuSignals are the per-GPU signals from dcgm-exporter. Current releases
// name metrics after DCGM fields; 1.x used dcgm_* names with uuid and
// pod_name labels (the aliases cover the labels).
func gpuSignals() []Signal {
	return []Signal{
		{
			Name: "gpu_busy_ratio", Help: "Share of time the GPU's graphics/compute engine was active (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelGPU, Agg: AggAvg, Extra: gpuExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0 (profiling, on by default)", Expr: `DCGM_FI_PROF_GR_ENGINE_ACTIVE`, Note: "works on MIG; preferred"},
				{Exporter: "dcgm-exporter", Versions: "all", Expr: `DCGM_FI_DEV_GPU_UTIL / 100`, Note: "percent of time at least one kernel ran; liveness more than efficiency; absent on MIG"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_gpu_utilization / 100`, Note: "the legacy 1.x names, replaced by the DCGM_FI_ fields in 2.0"},
			},
		},
		{
			Name: "gpu_memory_bandwidth_ratio", Help: "Share of cycles the memory interface was busy (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelGPU, Agg: AggAvg, Extra: gpuExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0 (profiling, on by default)", Expr: `DCGM_FI_PROF_DRAM_ACTIVE`},
				{Exporter: "dcgm-exporter", Versions: "all", Expr: `DCGM_FI_DEV_MEM_COPY_UTIL / 100`},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_mem_copy_utilization / 100`},
			},
		},
		{
			Name: "gpu_tensor_active_ratio", Help: "Share of cycles the tensor pipe was active (0–1).",
			Unit: UnitRatio, Kind: KindRatio, Level: LevelGPU, Agg: AggAvg, Extra: gpuExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0 (profiling, on by default)", Expr: `DCGM_FI_PROF_PIPE_TENSOR_ACTIVE`},
			},
		},
		{
			Name: "gpu_framebuffer_used_bytes", Help: "GPU framebuffer memory in use.",
			Unit: UnitBytes, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `DCGM_FI_DEV_FB_USED * 1048576`, Note: "exported in MiB"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_fb_used * 1048576`, Note: "exported in MiB"},
			},
		},
		{
			Name: "gpu_framebuffer_free_bytes", Help: "GPU framebuffer memory free.",
			Unit: UnitBytes, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `DCGM_FI_DEV_FB_FREE * 1048576`, Note: "exported in MiB"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_fb_free * 1048576`, Note: "exported in MiB"},
			},
		},
		{
			Name: "gpu_power_watts", Help: "GPU power draw.",
			Unit: UnitWatts, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `DCGM_FI_DEV_POWER_USAGE`},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_power_usage`},
			},
		},
		{
			Name: "gpu_energy_joules", Help: "GPU energy counter since boot or exporter start (read as increase() does: a drop is a reset); where it is absent, the power gauge in W, to be integrated over time. The energy_source label says which.",
			Unit: UnitJoules, Kind: KindCounter, Level: LevelGPU, Agg: AggMax, Range: NonNegative(), DedupeOnKey: true,
			Extra: append(gpuExtra(), "namespace", "pod", "energy_source"),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `label_replace(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION / 1000, "energy_source", "counter", "", "")`,
					Note: "a counter in mJ; resets (reboots, exporter restarts) handled as increase() does; preferred"},
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `label_replace(DCGM_FI_DEV_POWER_USAGE, "energy_source", "power", "", "")`,
					Note: "the power gauge in W (not J), integrated over time by its reader, when the energy counter is absent"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `label_replace(dcgm_power_usage, "energy_source", "power", "", "")`},
			},
		},
		{
			Name: "gpu_temperature_celsius", Help: "GPU die temperature.",
			Unit: UnitCelsius, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: &Range{Min: -40, Max: 150},
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `DCGM_FI_DEV_GPU_TEMP`},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_gpu_temp`},
			},
		},
		{
			Name: "gpu_last_xid", Help: "Code of the last XID error the GPU reported (0 when none).",
			Unit: UnitCode, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `DCGM_FI_DEV_XID_ERRORS`, Note: "err_code and err_msg labels are dropped by the aggregation"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `dcgm_xid_errors`},
			},
		},
		{
			Name: "gpu_pod", Help: "Topology: which pod holds each GPU (value 1; pod and namespace empty for unallocated GPUs).",
			Unit: UnitInfo, Kind: KindInfo, Level: LevelGPU, Agg: AggInfo, Extra: []string{"gpu", "namespace", "pod", "container"},
			Sources: []Source{
				// Every field carries the pod labels, so topology reads the
				// fields the catalog reads for its signals, and the SM clock,
				// the first field of every CSV dcgm-exporter ships (a GPU
				// whose exporter has none of the signals' fields is still
				// known); the fields nothing else reads are then not stored
				// (TestTopologyFields keeps the list equal to the signals').
				{Exporter: "dcgm-exporter", Versions: "≥2.0", Expr: `{__name__=~"DCGM_FI_DEV_(FB_FREE|FB_USED|GPU_TEMP|GPU_UTIL|MEM_COPY_UTIL|POWER_USAGE|ROW_REMAP_FAILURE|SM_CLOCK|TOTAL_ENERGY_CONSUMPTION|UNCORRECTABLE_REMAPPED_ROWS|XID_ERRORS)|DCGM_FI_PROF_(DRAM_ACTIVE|GR_ENGINE_ACTIVE|PIPE_TENSOR_ACTIVE)"}`,
					Note: "needs --kubernetes (default in Helm); the exporter's own pod means unallocated; any field the signals read, or DCGM_FI_DEV_SM_CLOCK"},
				{Exporter: "dcgm-exporter", Versions: "1.x", Expr: `{__name__=~"dcgm_.+"}`},
			},
		},
	}
}

package schema

// gpuHealthSignals are dcgm-exporter's GPU health signals: HBM row
// remapping (in the default counters), the exporter's own XID count and
// DCGM health-check collectors (off by default: `servescope generate`'s
// dcgm-exporter values turn them on), read beside gpu_last_xid, the
// last-error gauge every version exports. Verified against
// NVIDIA/dcgm-exporter 4.5.3-4.8.2: etc/default-counters.csv,
// internal/pkg/collector/xid_collector.go, expcollector.go and
// gpu_health_collector.go.
func gpuHealthSignals() []Signal {
	return []Signal{
		{
			Name: "gpu_row_remap_failure", Help: "1 when the GPU's HBM row remapping failed (no spare row left for an uncorrectable error): the GPU needs replacing.",
			Unit: UnitCode, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: UnitInterval(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.1 (default counters; Ampere and later)", Expr: `DCGM_FI_DEV_ROW_REMAP_FAILURE`,
					Note: "gauge, 0 or 1 (github.com/NVIDIA/dcgm-exporter@4.5.3-4.8.2 etc/default-counters.csv); absent on GPUs without row remapping (pre-Ampere), which is not reported, never 0"},
			},
		},
		{
			Name: "gpu_uncorrectable_remapped_rows", Help: "HBM rows remapped for uncorrectable memory errors since the GPU's driver loaded; a rise is a new uncorrectable error (the GPU needs a reset).",
			Unit: UnitRows, Kind: KindCounter, Level: LevelGPU, Agg: AggMax, Extra: gpuExtra(), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥2.1 (default counters; Ampere and later)", Expr: `DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS`,
					Note: "a counter without _total (github.com/NVIDIA/dcgm-exporter@4.5.3-4.8.2 etc/default-counters.csv); read as increase() reads it"},
			},
		},
		{
			Name: "gpu_xid_errors", Help: "XID errors of each code (label xid) the GPU reported within the exporter's window (label window_size_in_ms, 5 min by default): a count over a sliding window, not a counter; one series without xid, value 0, when none.",
			Unit: UnitErrors, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: append(gpuExtra(), "xid", "window_size_in_ms"), Range: NonNegative(),
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥3.3.5-3.4.0 (off by default: DCGM_EXP_XID_ERRORS_COUNT in the counters file)", Expr: `DCGM_EXP_XID_ERRORS_COUNT`,
					Note: "declared counter in the CSV, but expcollector.go counts DCGM_FI_DEV_XID_ERRORS values since now − --xid-count-window-size (default 300000 ms), so it falls back to 0 when the window passes; labels xid and window_size_in_ms (github.com/NVIDIA/dcgm-exporter@4.5.3-4.8.2 internal/pkg/collector/xid_collector.go, expcollector.go, const.go)"},
			},
		},
		{
			Name: "gpu_health_status", Help: "DCGM health check per watched subsystem (label health_watch: MEM, PCIE, NVLINK, ALL, …, and health_error_code, e.g. DCGM_FR_ROW_REMAP_FAILURE): 0 pass, 10 warn, 20 fail.",
			Unit: UnitCode, Kind: KindGauge, Level: LevelGPU, Agg: AggMax, Extra: append(gpuExtra(), "health_watch", "health_error_code"), Range: &Range{Min: 0, Max: 20},
			Sources: []Source{
				{Exporter: "dcgm-exporter", Versions: "≥4.0.0-4.0.1 (off by default: DCGM_EXP_GPU_HEALTH_STATUS in the counters file)", Expr: `DCGM_EXP_GPU_HEALTH_STATUS`,
					Note: "the value is DCGM's dcgmHealthWatchResult_t (PASS 0, WARN 10, FAIL 20); one series per health_watch, DCGM_FR_OK when it passes (github.com/NVIDIA/dcgm-exporter@4.5.3-4.8.2 internal/pkg/collector/gpu_health_collector.go)"},
			},
		},
	}
}

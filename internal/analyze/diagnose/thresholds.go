package diagnose

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/analyze/health"
)

// Thresholds are the detectors' and alerts' limits. Start from
// DefaultThresholds and override fields; Validate refuses out-of-range or
// contradictory values, naming the key (the yaml name) and the reason.
type Thresholds struct {
	// Step is the resolution of the snapshot (range query step).
	Step time.Duration `yaml:"step"`
	// Sustain is the trailing period a condition must hold over, and
	// SustainShare the share of its steps that must meet it.
	Sustain      time.Duration `yaml:"sustain"`
	SustainShare float64       `yaml:"sustain_share"`

	// IdleBusy: engine active below it, with no request running or waiting,
	// is idle.
	IdleBusy float64 `yaml:"idle_busy"`
	// HostBoundBusy: engine active below it while at least
	// HostBoundRunning requests run is host-bound.
	HostBoundBusy    float64 `yaml:"host_bound_busy"`
	HostBoundRunning float64 `yaml:"host_bound_running"`
	// Memory-bandwidth-bound: engine active at least MemoryBoundBusy, DRAM
	// active at least MemoryBoundDRAM and at least
	// MemoryBoundDRAMOverTensor times the tensor activity, tensor active
	// below MemoryBoundTensor, and nothing waiting. The room to raise the
	// batch is judged against KVHigh.
	MemoryBoundBusy           float64 `yaml:"memory_bound_busy"`
	MemoryBoundDRAM           float64 `yaml:"memory_bound_dram"`
	MemoryBoundTensor         float64 `yaml:"memory_bound_tensor"`
	MemoryBoundDRAMOverTensor float64 `yaml:"memory_bound_dram_over_tensor"`
	// KVHigh (warning) and KVSaturated (critical, with preemptions) bound
	// the KV-cache usage ratio.
	KVHigh      float64 `yaml:"kv_high"`
	KVSaturated float64 `yaml:"kv_saturated"`
	// BacklogWaiting: at least this many waiting requests, sustained, on an
	// engine at least BacklogBusy active, is a backlog; above ScaleOutBusy
	// the action is to scale out.
	BacklogWaiting float64 `yaml:"backlog_waiting"`
	BacklogBusy    float64 `yaml:"backlog_busy"`
	// GatewayQueued: at least this many requests per pod held in an
	// inference gateway's queue (llm-d's flow control, Dynamo's router),
	// sustained, on engines at least BacklogBusy active, is a gateway
	// backlog: demand no engine has seen.
	GatewayQueued float64 `yaml:"gateway_queued"`
	ScaleOutBusy  float64 `yaml:"scale_out_busy"`
	// ConsolidateBusy: a model whose GPUs are below it on average with
	// nothing waiting holds GPUs it could free.
	ConsolidateBusy float64 `yaml:"consolidate_busy"`
	// TTFTTarget: a TTFT p95 above it is unmet demand for the capacity
	// advice. Zero (the default) sets no latency objective: what TTFT is
	// acceptable depends on the model, the prompts and the GPU (a 7B model
	// on a MIG slice with long prompts takes seconds with nothing queued),
	// so only the user can say; without it waiting requests and preemptions
	// are the evidence.
	TTFTTarget time.Duration `yaml:"ttft_target"`
	// TargetBusy is the busy level capacity advice sizes for.
	TargetBusy float64 `yaml:"target_busy"`
	// Utilisation report bands: GPUs below LowBusy and above HighBusy.
	LowBusy  float64 `yaml:"low_busy"`
	HighBusy float64 `yaml:"high_busy"`
	// TTFTFactor: TTFT p95 at least this many times its baseline, and at
	// least TTFTMinIncrease above it, is a regression.
	TTFTFactor      float64       `yaml:"ttft_factor"`
	TTFTMinIncrease time.Duration `yaml:"ttft_min_increase"`
	// SpecAcceptance: a draft acceptance ratio below it is poor.
	SpecAcceptance float64 `yaml:"spec_acceptance"`
	// GPUDisagree: GPUs of one pod whose mean busy differs by more than
	// this lower the confidence (a TP group should move together).
	GPUDisagree float64 `yaml:"gpu_disagree"`
	// Prefill/decode disaggregation (detect_pd.go). PDIdleBusy: a role's
	// pool below it on average, with nothing waiting, idles while the
	// other role's pool queues (pd_imbalance). KVTransferLatency: mean KV
	// transfer time at or above it while KVTransferWaiting requests wait
	// for KV, or KVTransferFailures failed or expired transfers per
	// second, is kv_transfer_bound. AsleepRatio: a share of the pod's
	// engines asleep at least this is engine_asleep.
	PDIdleBusy         float64       `yaml:"pd_idle_busy"`
	KVTransferLatency  time.Duration `yaml:"kv_transfer_latency"`
	KVTransferWaiting  float64       `yaml:"kv_transfer_waiting"`
	KVTransferFailures float64       `yaml:"kv_transfer_failures"`
	AsleepRatio        float64       `yaml:"asleep_ratio"`

	// Kueue queues (detect_kueue.go). QuotaStarvedWait: an admission wait
	// p95 above it, while the queue's reserved GPUs are at least
	// QueueSaturated of its nominal quota, is quota starvation.
	// StrandedIdleGPUs: at least this many GPU-equivalents of nominal quota
	// unused elsewhere in the cohort while workloads wait for quota is
	// stranded quota. AdmittedReadyWait: an admitted-until-ready p95 above
	// it is admitted-but-not-running. Both default to 320 s, the bound of
	// Kueue's wait buckets (1 s, then 2.5 s·2^n) nearest 5 minutes, so
	// histogram_quantile never interpolates a wait across the threshold.
	QuotaStarvedWait  time.Duration `yaml:"quota_starved_wait"`
	QueueSaturated    float64       `yaml:"queue_saturated"`
	StrandedIdleGPUs  float64       `yaml:"stranded_idle_gpus"`
	AdmittedReadyWait time.Duration `yaml:"admitted_ready_wait"`

	// Alert durations (the rules' `for:`).
	KVHighFor       time.Duration `yaml:"kv_high_for"`
	KVSaturatedFor  time.Duration `yaml:"kv_saturated_for"`
	QueuedFor       time.Duration `yaml:"queued_for"`
	TTFTFor         time.Duration `yaml:"ttft_for"`
	GPUIdleFor      time.Duration `yaml:"gpu_idle_for"`
	XIDFor          time.Duration `yaml:"xid_for"`
	ExporterDownFor time.Duration `yaml:"exporter_down_for"`
	// TTFTBaseline is the offset of the TTFT baseline the regression alert
	// compares with.
	TTFTBaseline time.Duration `yaml:"ttft_baseline"`
	// Health holds the unusable-GPU judgement's limits (unusable_*
	// keys, inline), shared with the fleet model.
	Health health.Thresholds `yaml:",inline"`
}

// MaxSteps bounds the steps of a snapshot (and so the points of each of
// its range queries), far below Prometheus's limit of 11,000 points per
// series, on the embedded engine and on any remote one.
const MaxSteps = 2000

// StepFor is the step a window is read at: Step while the window has at
// most MaxSteps of them, else the smallest multiple of Step (whole
// minutes once above a minute) that keeps it within MaxSteps.
func (th Thresholds) StepFor(window time.Duration) time.Duration {
	step := th.Step
	if step <= 0 || window/step <= MaxSteps {
		return step
	}
	need := (window + MaxSteps - 1) / MaxSteps
	unit := step
	if need > time.Minute && time.Minute%step == 0 {
		unit = time.Minute
	}
	return (need + unit - 1) / unit * unit
}

// stepsIn is how many steps of length step cover d, at least one.
func stepsIn(d, step time.Duration) int {
	if step <= 0 {
		return 1
	}
	return max(1, int((d+step-1)/step))
}

// DefaultThresholds returns the documented defaults (docs/diagnosis.md).
func DefaultThresholds() Thresholds {
	return Thresholds{
		Step:                      15 * time.Second,
		Sustain:                   5 * time.Minute,
		SustainShare:              0.8,
		IdleBusy:                  0.10,
		HostBoundBusy:             0.5,
		HostBoundRunning:          1,
		MemoryBoundBusy:           0.5,
		MemoryBoundDRAM:           0.4,
		MemoryBoundTensor:         0.3,
		MemoryBoundDRAMOverTensor: 2,
		KVHigh:                    0.85,
		KVSaturated:               0.9,
		BacklogWaiting:            1,
		GatewayQueued:             1,
		BacklogBusy:               0.5,
		ScaleOutBusy:              0.85,
		ConsolidateBusy:           0.3,
		TargetBusy:                0.7,
		LowBusy:                   0.7,
		HighBusy:                  0.85,
		TTFTFactor:                2,
		TTFTMinIncrease:           250 * time.Millisecond,
		SpecAcceptance:            0.5,
		GPUDisagree:               0.3,
		QuotaStarvedWait:          320 * time.Second,
		QueueSaturated:            0.9,
		StrandedIdleGPUs:          1,
		AdmittedReadyWait:         320 * time.Second,
		PDIdleBusy:                0.3,
		KVTransferLatency:         500 * time.Millisecond,
		KVTransferWaiting:         1,
		KVTransferFailures:        0.01,
		AsleepRatio:               0.5,
		KVHighFor:                 5 * time.Minute,
		KVSaturatedFor:            2 * time.Minute,
		QueuedFor:                 5 * time.Minute,
		TTFTFor:                   5 * time.Minute,
		GPUIdleFor:                30 * time.Minute,
		XIDFor:                    1 * time.Minute,
		ExporterDownFor:           5 * time.Minute,
		TTFTBaseline:              1 * 24 * time.Hour,
		Health:                    health.DefaultThresholds(),
	}
}

// Validate checks the thresholds against the scrape interval (the shortest
// `for` must exceed it; 0 skips that check). Each error names the key and
// the reason; all are joined.
func (th Thresholds) Validate(scrapeInterval time.Duration) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("diagnosis threshold %s: "+format, append([]any{key}, args...)...))
	}
	ratios := []struct {
		key string
		v   float64
	}{
		{"sustain_share", th.SustainShare}, {"idle_busy", th.IdleBusy}, {"host_bound_busy", th.HostBoundBusy},
		{"memory_bound_busy", th.MemoryBoundBusy}, {"memory_bound_dram", th.MemoryBoundDRAM},
		{"memory_bound_tensor", th.MemoryBoundTensor},
		{"kv_high", th.KVHigh}, {"kv_saturated", th.KVSaturated}, {"backlog_busy", th.BacklogBusy},
		{"scale_out_busy", th.ScaleOutBusy}, {"consolidate_busy", th.ConsolidateBusy},
		{"target_busy", th.TargetBusy}, {"low_busy", th.LowBusy}, {"high_busy", th.HighBusy},
		{"spec_acceptance", th.SpecAcceptance}, {"gpu_disagree", th.GPUDisagree},
		{"queue_saturated", th.QueueSaturated},
		{"pd_idle_busy", th.PDIdleBusy}, {"asleep_ratio", th.AsleepRatio},
	}
	for _, r := range ratios {
		if !(r.v > 0 && r.v <= 1) {
			bad(r.key, "%g is outside (0, 1]", r.v)
		}
	}
	if th.KVHigh >= th.KVSaturated {
		bad("kv_high", "warning level %g is not below the critical kv_saturated %g", th.KVHigh, th.KVSaturated)
	}
	// Pairs of levels whose order the detectors rely on: key below (or, not
	// strict, at most) other.
	orders := []struct {
		key, other string
		v, limit   float64
		strict     bool
	}{
		{"idle_busy", "host_bound_busy", th.IdleBusy, th.HostBoundBusy, true},
		{"backlog_busy", "scale_out_busy", th.BacklogBusy, th.ScaleOutBusy, false},
		{"low_busy", "high_busy", th.LowBusy, th.HighBusy, false},
		{"consolidate_busy", "target_busy", th.ConsolidateBusy, th.TargetBusy, true},
		{"pd_idle_busy", "backlog_busy", th.PDIdleBusy, th.BacklogBusy, true},
	}
	for _, o := range orders {
		switch {
		case o.strict && o.v >= o.limit:
			bad(o.key, "%g is not below %s %g", o.v, o.other, o.limit)
		case !o.strict && o.v > o.limit:
			bad(o.key, "%g is above %s %g", o.v, o.other, o.limit)
		}
	}
	if th.MemoryBoundDRAMOverTensor < 1 {
		bad("memory_bound_dram_over_tensor", "%g must be at least 1", th.MemoryBoundDRAMOverTensor)
	}
	if th.TTFTFactor <= 1 {
		bad("ttft_factor", "%g must be above 1", th.TTFTFactor)
	}
	if th.TTFTTarget < 0 {
		bad("ttft_target", "%s is negative (0 sets no target)", th.TTFTTarget)
	}
	if th.TTFTMinIncrease < 0 {
		bad("ttft_min_increase", "%s is negative", th.TTFTMinIncrease)
	}
	positives := []struct {
		key string
		v   float64
	}{
		{"backlog_waiting", th.BacklogWaiting}, {"kv_transfer_waiting", th.KVTransferWaiting},
		{"kv_transfer_failures", th.KVTransferFailures}, {"gateway_queued", th.GatewayQueued},
		{"host_bound_running", th.HostBoundRunning}, {"stranded_idle_gpus", th.StrandedIdleGPUs},
	}
	for _, p := range positives {
		if p.v <= 0 {
			bad(p.key, "%g must be positive", p.v)
		}
	}
	durations := []struct {
		key string
		d   time.Duration
	}{
		{"kv_transfer_latency", th.KVTransferLatency}, {"quota_starved_wait", th.QuotaStarvedWait},
		{"admitted_ready_wait", th.AdmittedReadyWait}, {"step", th.Step}, {"ttft_baseline", th.TTFTBaseline},
	}
	for _, p := range durations {
		if p.d <= 0 {
			bad(p.key, "%s must be positive", p.d)
		}
	}
	if th.Sustain < th.Step {
		bad("sustain", "%s is shorter than step %s", th.Sustain, th.Step)
	}
	fors := []struct {
		key string
		d   time.Duration
	}{
		{"kv_high_for", th.KVHighFor}, {"kv_saturated_for", th.KVSaturatedFor}, {"queued_for", th.QueuedFor},
		{"ttft_for", th.TTFTFor}, {"gpu_idle_for", th.GPUIdleFor}, {"xid_for", th.XIDFor},
		{"exporter_down_for", th.ExporterDownFor},
	}
	for _, f := range fors {
		switch {
		case f.d <= 0:
			bad(f.key, "%s must be positive", f.d)
		case scrapeInterval > 0 && f.d < scrapeInterval:
			bad(f.key, "%s is shorter than the scrape interval %s: the alert could fire on one sample", f.d, scrapeInterval)
		}
	}
	if err := th.Health.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DecodeThresholds reads thresholds from YAML (the keys above, durations
// as "5m") over the defaults, refusing unknown keys, then validates them
// against the scrape interval. Errors name the key.
func DecodeThresholds(b []byte, scrapeInterval time.Duration) (Thresholds, error) {
	th := DefaultThresholds()
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&th); err != nil {
			return Thresholds{}, fmt.Errorf("diagnosis thresholds: %w", err)
		}
	}
	if err := th.Validate(scrapeInterval); err != nil {
		return Thresholds{}, err
	}
	return th, nil
}

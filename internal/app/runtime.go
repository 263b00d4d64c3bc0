package app

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/automaxprocs/maxprocs"

	"github.com/servescope/servescope/internal/config"
)

// applyRuntime applies the config's runtime section as Prometheus does:
// the garbage collector's target percentage is runtime.gogc, whose
// default is Prometheus's 75 unless the GOGC variable is set (then GOGC).
// A lower target keeps the heap closer to what is live (Prometheus's
// reason for 75) for a little more GC CPU. GOGC is set to the value so
// /api/v1/status/runtimeinfo says it, as Prometheus's does.
func applyRuntime(cfg *config.Config, logger *slog.Logger) {
	gogc := cfg.Prometheus.Runtime.GoGC
	if old := debug.SetGCPercent(gogc); old != gogc {
		logger.Info("updated GOGC", "old", old, "new", gogc)
	}
	v := "off"
	if gogc >= 0 {
		v = strconv.Itoa(gogc)
	}
	if err := os.Setenv("GOGC", v); err != nil {
		logger.Warn("set GOGC", "err", err)
	}
}

// applyNoTelemetry makes OpenTelemetry's global tracer and meter providers
// no-ops, as Prometheus's tracing manager does without a tracing section:
// servescope exports neither, and Prometheus's scrape client (otelhttp)
// and PromQL engine otherwise make a span and a metric attribute set per
// scrape and per query through the global delegates (about 3% of serve's
// CPU at 200 targets).
func applyNoTelemetry() {
	otel.SetTracerProvider(tracenoop.NewTracerProvider())
	otel.SetMeterProvider(metricnoop.NewMeterProvider())
}

// applyMemLimit sets the Go runtime's soft memory limit (GOMEMLIMIT) to
// ratio of the container's memory limit (its cgroup), or of the machine's
// memory outside a container, as Prometheus's --auto-gomemlimit does: near
// the limit the collector runs more often instead of letting the heap
// grow past it and the kernel kill the process. A GOMEMLIMIT or
// AUTOMEMLIMIT variable in the environment wins. Zero ratio: nothing is
// set. The query memory budget (query.MemoryBudget) is a share of the
// limit, so this runs before the query engine is built.
func applyMemLimit(ratio float64, logger *slog.Logger) {
	if ratio == 0 {
		return
	}
	if _, err := memlimit.Set(
		memlimit.WithRatio(ratio),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
		memlimit.WithLogger(logger.With("component", "automemlimit")),
	); err != nil {
		logger.Warn("could not set GOMEMLIMIT from the memory limit", "err", err)
	}
}

// applyMaxProcs sets GOMAXPROCS to 1 when the container's CPU quota (its
// cgroup) is below two cores. The Go runtime sizes GOMAXPROCS from the
// quota but never below 2, and in a pod held to one core two threads spend
// the quota in half of each period and the whole process then waits for
// the next one: at 10,000 GPUs `serve` was throttled in 70% of the periods
// and a dashboard page took up to 2 s, with GOMAXPROCS 1 in 15% and at
// most 0.7 s (BENCHMARKS.md). At two cores or more, or without a quota,
// the runtime's choice stands; a GOMAXPROCS variable wins.
func applyMaxProcs(on bool, logger *slog.Logger) {
	if !on {
		return
	}
	logf := func(format string, args ...any) {
		logger.Debug(fmt.Sprintf(format, args...), "component", "automaxprocs")
	}
	if _, err := maxprocs.Set(maxprocs.Logger(logf), maxprocs.RoundQuotaFunc(maxProcsFor)); err != nil {
		logger.Warn("could not set GOMAXPROCS from the CPU quota", "err", err)
	}
}

// maxProcsFor is GOMAXPROCS for a CPU quota of cores: 1 below two cores,
// the runtime's own choice otherwise.
func maxProcsFor(cores float64) int {
	if cores < 2 {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

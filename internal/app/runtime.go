package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

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

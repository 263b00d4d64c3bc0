package app

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	promconfig "github.com/prometheus/prometheus/config"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/config"
)

// TestRuntimeGOGC: the config's runtime.gogc sets the GC target as in
// Prometheus: 75 by default, the configured value, off for a negative
// one; a reload applies the new value.
func TestRuntimeGOGC(t *testing.T) {
	t.Setenv("GOGC", os.Getenv("GOGC")) // restored after: applyRuntime sets it
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	for _, tc := range []struct {
		name, yml string
		want      int
	}{
		{"default", "global: {scrape_interval: 15s}\n", promconfig.DefaultRuntimeConfig.GoGC}, // 75 unless GOGC is set
		{"configured", "runtime: {gogc: 50}\n", 50},
		{"reloaded", "runtime: {gogc: 120}\n", 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse(tc.name+".yml", []byte(tc.yml), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			applyRuntime(cfg, slog.New(slog.DiscardHandler))
			if got := debug.SetGCPercent(old); got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}

// TestAutoMemLimit: serve's ratio of the memory limit (the cgroup's, or
// the machine's outside a container) becomes GOMEMLIMIT; zero sets
// nothing; a GOMEMLIMIT variable wins; and the query memory budget
// follows the limit.
func TestAutoMemLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AUTOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	os.Unsetenv("AUTOMEMLIMIT")
	total, err := memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)()
	if err != nil {
		t.Skipf("no memory limit to read here: %v", err)
	}
	logger := slog.New(slog.DiscardHandler)
	const unset = math.MaxInt64
	for _, tc := range []struct {
		name  string
		ratio float64
		env   string
		want  int64
	}{
		{"off", 0, "", unset},
		{"half", 0.5, "", int64(float64(total) * 0.5)},
		{"Prometheus's default", 0.9, "", int64(float64(total) * 0.9)},
		{"GOMEMLIMIT set", 0.9, "1GiB", unset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(unset)
			if tc.env != "" {
				t.Setenv("GOMEMLIMIT", tc.env)
			}
			applyMemLimit(tc.ratio, logger)
			got := debug.SetMemoryLimit(-1)
			if got != tc.want {
				t.Errorf("GOMEMLIMIT %d, want %d (memory limit %d)", got, tc.want, total)
			}
			if budget := query.MemoryBudget(0); got != unset && budget != int64(float64(got)*0.8) {
				t.Errorf("query memory budget %d under GOMEMLIMIT %d, want 80%% of it", budget, got)
			}
		})
	}
}

// TestNoTelemetry: serve's process makes no spans or OpenTelemetry metrics
// (Prometheus's scrape client and engine ask the global providers).
func TestNoTelemetry(t *testing.T) {
	applyNoTelemetry()
	if _, ok := otel.GetTracerProvider().(tracenoop.TracerProvider); !ok {
		t.Errorf("tracer provider %T, want the no-op one", otel.GetTracerProvider())
	}
	if _, ok := otel.GetMeterProvider().(metricnoop.MeterProvider); !ok {
		t.Errorf("meter provider %T, want the no-op one", otel.GetMeterProvider())
	}
	_, span := otel.Tracer("scrape").Start(t.Context(), "scrape")
	if span.IsRecording() {
		t.Error("a span records")
	}
}

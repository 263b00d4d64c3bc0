package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

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

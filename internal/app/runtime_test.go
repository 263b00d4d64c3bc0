package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"testing"

	promconfig "github.com/prometheus/prometheus/config"

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

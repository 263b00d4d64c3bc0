package app

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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

// TestMaxProcsFor: below a quota of two cores GOMAXPROCS is 1, from two
// cores on the runtime's own choice stands.
func TestMaxProcsFor(t *testing.T) {
	for _, tc := range []struct {
		cores float64
		want  int
	}{
		{0.25, 1}, {1, 1}, {1.5, 1}, {1.99, 1}, {2, runtime.GOMAXPROCS(0)}, {8, runtime.GOMAXPROCS(0)},
	} {
		if got := maxProcsFor(tc.cores); got != tc.want {
			t.Errorf("maxProcsFor(%g) = %d, want %d", tc.cores, got, tc.want)
		}
	}
}

// TestAutoMaxProcs runs a process in a cgroup with a CPU quota (root and
// a writable cgroup v1 or v2 CPU controller, else skipped) and reads the
// GOMAXPROCS applyMaxProcs gives it: 1 under one core or half a core, the
// runtime's own (unchanged) over three cores, when turned off and when
// GOMAXPROCS is set.
func TestAutoMaxProcs(t *testing.T) {
	cpuDir := cpuCgroupDir(t)
	for _, tc := range []struct {
		name  string
		cores float64
		on    bool
		env   string
		want  string // "": the runtime's own, as before applyMaxProcs
	}{
		{"one core", 1, true, "", "1"},
		{"half a core", 0.5, true, "", "1"},
		{"three cores", 3, true, "", ""},
		{"off", 1, false, "", ""},
		{"GOMAXPROCS set", 1, true, "3", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(cpuDir, fmt.Sprintf("servescope-test-%d-%s", os.Getpid(), strings.ReplaceAll(tc.name, " ", "-")))
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(d) })
			quota := strconv.Itoa(int(tc.cores * 100000))
			if _, err := os.Stat(filepath.Join(d, "cpu.max")); err == nil {
				writeFile(t, filepath.Join(d, "cpu.max"), quota+" 100000")
			} else {
				writeFile(t, filepath.Join(d, "cpu.cfs_period_us"), "100000")
				writeFile(t, filepath.Join(d, "cpu.cfs_quota_us"), quota)
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMaxProcsChild$")
			cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
			cmd.Env = append(cmd.Env, "SERVESCOPE_MAXPROCS_CHILD="+strconv.FormatBool(tc.on))
			if tc.env != "" {
				cmd.Env = append(cmd.Env, "GOMAXPROCS="+tc.env)
			}
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(d, "cgroup.procs"), strconv.Itoa(cmd.Process.Pid))
			in.Close() // the child goes on once it is in the cgroup
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child: %v\n%s", err, out.String())
			}
			got := regexp.MustCompile(`GOMAXPROCS before (\d+) after (\d+)`).FindStringSubmatch(out.String())
			if got == nil {
				t.Fatalf("child said %q", out.String())
			}
			want := cmp.Or(tc.want, got[1])
			if got[2] != want {
				t.Errorf("GOMAXPROCS in a cgroup of %g cores: %s (before applyMaxProcs: %s), want %s", tc.cores, got[2], got[1], want)
			}
		})
	}
}

// TestMaxProcsChild is TestAutoMaxProcs's process: once its standard
// input closes (it is in the cgroup), it applies applyMaxProcs and prints
// GOMAXPROCS.
func TestMaxProcsChild(t *testing.T) {
	on, err := strconv.ParseBool(os.Getenv("SERVESCOPE_MAXPROCS_CHILD"))
	if err != nil {
		t.Skip("run by TestAutoMaxProcs")
	}
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
	before := runtime.GOMAXPROCS(0)
	applyMaxProcs(on, slog.New(slog.DiscardHandler))
	fmt.Printf("GOMAXPROCS before %d after %d\n", before, runtime.GOMAXPROCS(0))
}

// cpuCgroupDir is this process's cgroup directory of the CPU controller
// (v2, or v1's cpu hierarchy), skipping the test when it cannot make one
// below it.
func cpuCgroupDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a cgroup needs root")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		var d string
		switch {
		case f[0] == "0" && f[1] == "":
			d = filepath.Join("/sys/fs/cgroup", f[2])
			if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err != nil {
				continue
			}
		case slices.Contains(strings.Split(f[1], ","), "cpu"):
			d = filepath.Join("/sys/fs/cgroup/cpu", f[2])
		default:
			continue
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	t.Skip("no writable CPU cgroup controller here")
	return ""
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Skipf("cgroup not writable: %v", err)
	}
}

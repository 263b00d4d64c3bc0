// Package proc runs real processes for tests: a free loopback address, a
// background process that lives until the test ends (its log shown when
// the test fails), polling with a deadline, a wait for /-/ready, and a GET of a
// Prometheus-compatible API's envelope. It is
// imported by _test.go files only.
package proc

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs bin with args until the test ends (sent SIGTERM, then waited
// for, killed after 10 s), logging to name.log in dir; the log is shown
// when the test fails.
func Start(t testing.TB, dir, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Wait() // ended by the test context's cancel; its status says nothing here
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath) // best effort: the log only explains a failure
			t.Logf("%s log:\n%s", name, b)
		}
	})
}

// Eventually calls cond until it holds or the timeout passes, then fails
// with cond's last state. It polls real processes; it does not wait for
// time to pass.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s: not reached in %s; last state:\n%s", what, timeout, last)
}

// WaitReady polls base+"/-/ready" until it answers 200.
func WaitReady(t testing.TB, what, base string, timeout time.Duration) {
	t.Helper()
	Eventually(t, what+" ready", timeout, func() (bool, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/-/ready", nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// PrometheusOver writes an OpenMetrics text into a new Prometheus store
// with promtool (tsdb create-blocks-from openmetrics) and runs Debian's
// Prometheus over it on a free loopback port, with a 30-day retention,
// until the test ends; it returns the base URL once ready. The test is
// skipped when prometheus or promtool is absent.
func PrometheusOver(t testing.TB, openMetrics string) string {
	t.Helper()
	bin, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		t.Skip("Debian's prometheus and promtool are not installed; make test installs them (apt-get install prometheus)")
	}
	dir := t.TempDir()
	omFile, data := filepath.Join(dir, "series.om"), filepath.Join(dir, "data")
	if err := os.WriteFile(omFile, []byte(openMetrics), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), promtool, "tsdb", "create-blocks-from", "openmetrics", omFile, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	addr := FreeAddr(t)
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {scrape_interval: 1m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Start(t, dir, "prometheus", bin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr, "--storage.tsdb.retention.time=30d")
	base := "http://" + addr
	WaitReady(t, "prometheus", base, 60*time.Second)
	return base
}

// GetAPI GETs u from a Prometheus-compatible API and decodes the data of
// its envelope into data; a transport error, a non-JSON answer or an
// envelope whose status is not success fails t, naming the URL and the
// error the server gave.
func GetAPI(t testing.TB, u string, data any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if r.Status != "success" {
		t.Fatalf("GET %s: %s %s", u, r.ErrorType, r.Error)
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		t.Fatalf("GET %s: data: %v", u, err)
	}
}

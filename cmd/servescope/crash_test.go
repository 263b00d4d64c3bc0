package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// binary is servescope built once for the package's tests (linking it
// takes longer than most tests): its directory is removed by TestMain.
var binary struct {
	once     sync.Once
	dir, bin string
	err      error
	out      []byte
}

// TestMain runs the tests, then removes the binary they shared.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir) // a temporary directory; nothing to report
	}
	os.Exit(code)
}

// buildBinary builds servescope (once per package run), skipping the test
// without a go command.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build servescope with")
	}
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "servescope-test-"); binary.err != nil {
			return
		}
		binary.bin = filepath.Join(binary.dir, "servescope")
		// No symbol table or DWARF: nothing debugs it, and linking them is
		// a quarter of the build's CPU.
		binary.out, binary.err = exec.Command(goBin, "build", "-ldflags=-s -w", "-o", binary.bin, ".").CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build: %v\n%s", binary.err, binary.out)
	}
	return binary.bin
}

// TestKill9DuringIngest kills a serve process with SIGKILL while it
// scrapes, a few times over the same store: every restart opens the store
// (no corruption) and still holds every sample a query saw before the
// kill (no committed sample lost).
func TestKill9DuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly")
	}
	t.Parallel() // mostly waiting on the processes it starts
	dir := t.TempDir()
	bin := buildBinary(t)
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v := n.Add(1)
		fmt.Fprintf(w, "# TYPE crash_counter counter\ncrash_counter %d\n", v)
		for i := range 200 {
			fmt.Fprintf(w, "crash_series{i=\"%d\"} %d\n", i, v)
		}
	}))
	defer target.Close()
	cfg := filepath.Join(dir, "servescope.yml")
	// keep_all_metrics: crash_* are read by no signal, and would not be stored.
	yml := fmt.Sprintf("global: {scrape_interval: 500ms, scrape_timeout: 500ms}\nservescope: {keep_all_metrics: true}\nscrape_configs:\n  - job_name: crash\n    static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(target.URL, "http://"))
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := proc.FreeAddr(t)
	base := "http://" + addr
	count := func() (int, error) {
		resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {"count_over_time(crash_counter[1h])"}}.Encode())
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return 0, err
		}
		if len(r.Data.Result) == 0 {
			return 0, nil
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		return strconv.Atoi(s)
	}
	seen := 0
	for cycle := range 4 {
		log, err := os.Create(filepath.Join(dir, fmt.Sprintf("serve-%d.log", cycle)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), bin, "serve", "--config", cfg, "--storage.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		proc.WaitReady(t, fmt.Sprintf("serve after %d kills", cycle), base, 60*time.Second)
		if got, err := count(); err != nil || got < seen {
			b, _ := os.ReadFile(log.Name()) // shown to explain the failure
			t.Fatalf("after kill %d: %d samples (err %v), want at least the %d seen before it\n%s", cycle, got, err, seen, b)
		}
		if cycle == 3 {
			_ = cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Errorf("clean stop after the kills: %v", err)
			}
			log.Close()
			break
		}
		// Let it ingest a few scrapes more, note what it answers, kill it
		// mid-ingest.
		want := seen + 3
		proc.Eventually(t, "ingesting", 30*time.Second, func() (bool, string) {
			got, err := count()
			return err == nil && got >= want, fmt.Sprint(got, err)
		})
		if seen, err = count(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait() // killed: the status is the signal
		log.Close()
	}
}

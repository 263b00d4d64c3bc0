package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestTopInTmux runs `servescope top` in a real terminal: tmux, against a
// servescope scraping the simulated healthy fleet. It waits for the pods,
// changes the sort with keys, checks the order follows, and quits with q.
func TestTopInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a simulated fleet")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	t.Parallel() // mostly waiting on the processes it starts
	dir := t.TempDir()
	bin := buildBinary(t)

	simAddr, addr := proc.FreeAddr(t), proc.FreeAddr(t)
	targets := filepath.Join(dir, "targets.json")
	proc.Start(t, dir, "sim", bin, "sim", "--scenario", "healthy", "--scenario.dir", "../../examples/scenarios", "--gpus", "8",
		"--listen", simAddr, "--file-sd", targets)
	proc.Eventually(t, "file_sd written", 30*time.Second, func() (bool, string) {
		fi, err := os.Stat(targets)
		return err == nil && fi.Size() > 0, fmt.Sprint(err)
	})
	cfg := filepath.Join(dir, "servescope.yml")
	yml := `global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs: [{files: ['` + targets + `']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}]
  - job_name: sim
    file_sd_configs: [{files: ['` + targets + `']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}]
`
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	proc.Start(t, dir, "serve", bin, "serve", "--config", cfg, "--storage.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
	proc.Eventually(t, "servescope ready", 60*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	// A tmux server of the test's own, on a socket in its directory.
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), tmux, append([]string{"-S", sock}, args...)...)
		cmd.Env = os.Environ()
		if os.Getenv("TERM") == "" {
			cmd.Env = append(cmd.Env, "TERM=xterm")
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-s", "top", "-x", "200", "-y", "50",
		bin+" top --server http://"+addr+" --interval 1s; echo top exited $?; exec cat")
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", sock, "kill-server").Run() }) // the session may be gone already
	screen := func() []string { return strings.Split(tm("capture-pane", "-p", "-t", "top"), "\n") }

	// expect polls the screen until the title names the order and the rows
	// (at least two) are in it.
	expect := func(title string, ordered func(a, b []string) bool) {
		t.Helper()
		proc.Eventually(t, title, 60*time.Second, func() (bool, string) {
			s := screen()
			rows := topRows(s)
			if len(rows) < 2 || !strings.Contains(s[0], "sorted by "+title) {
				return false, strings.Join(s, "\n")
			}
			for i := 1; i < len(rows); i++ {
				if !ordered(rows[i-1], rows[i]) {
					return false, strings.Join(s, "\n")
				}
			}
			return true, ""
		})
	}
	anyOrder := func(_, _ []string) bool { return true }
	expect("DIAGNOSIS ascending", anyOrder)
	tm("send-keys", "-t", "top", "-l", ">")
	expect("POD ascending", func(a, b []string) bool { return a[0] < b[0] })
	tm("send-keys", "-t", "top", "-l", "r")
	expect("POD descending", func(a, b []string) bool { return a[0] > b[0] })
	tm("send-keys", "-t", "top", "Right", "Right", "Right")
	expect("BUSY descending", func(a, b []string) bool { return percent(a[3]) >= percent(b[3]) })
	if s := screen(); !slices.ContainsFunc(s, func(l string) bool { return strings.Contains(l, "BUSY▼") }) {
		t.Errorf("the sorted column is not marked:\n%s", strings.Join(s, "\n"))
	}
	// Filter by the first row's namespace: / types it, Enter keeps it.
	ns, _, _ := strings.Cut(topRows(screen())[0][0], "/")
	tm("send-keys", "-t", "top", "-l", "/"+ns)
	tm("send-keys", "-t", "top", "Enter")
	proc.Eventually(t, "filtered by "+ns, 30*time.Second, func() (bool, string) {
		s := screen()
		rows := topRows(s)
		ok := len(rows) > 0 && slices.ContainsFunc(s, func(l string) bool { return strings.HasPrefix(l, "filter: "+ns+"  (") })
		for _, r := range rows {
			ok = ok && strings.HasPrefix(r[0], ns+"/")
		}
		return ok, strings.Join(s, "\n")
	})
	tm("send-keys", "-t", "top", "-l", "q")
	proc.Eventually(t, "top exits", 30*time.Second, func() (bool, string) {
		s := screen()
		return slices.Contains(s, "top exited 0"), strings.Join(s, "\n")
	})
}

// topRows are the table's rows on the screen, split into fields (the pod
// first).
func topRows(screen []string) [][]string {
	var rows [][]string
	for _, l := range screen {
		f := strings.Fields(l)
		if len(f) >= 11 && strings.Contains(f[0], "/") && !strings.HasPrefix(l, "servescope") {
			rows = append(rows, f)
		}
	}
	return rows
}

// percent reads a cell such as 87%; "-" (no value) is below any.
func percent(s string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil {
		return -1
	}
	return n
}

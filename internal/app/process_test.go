package app

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// daemon runs a Debian-packaged server (prometheus, alertmanager) on a free
// loopback port until the test ends, with config written to its own
// directory, and waits until /-/ready answers. args receives the address,
// the directory and the config path. It skips the test when the binary is
// not installed.
func daemon(t *testing.T, bin, pkg, config string, args func(addr, dir, cfg string) []string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("Debian's %s is not installed; make test installs it (apt-get install %s)", bin, pkg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, bin+".yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args(addr, dir, cfg)...)
	logf, err := os.Create(filepath.Join(dir, bin+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed by the cancel
		logf.Close()
	})
	eventually(t, bin+" ready", 60*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return addr
}

package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/servescope/servescope/internal/testutil/proc"
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
	addr := proc.FreeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, bin+".yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	proc.Start(t, dir, bin, path, args(addr, dir, cfg)...)
	proc.WaitReady(t, bin, "http://"+addr, 60*time.Second)
	return addr
}

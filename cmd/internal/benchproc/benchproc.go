// Package benchproc holds what the measuring commands (cmd/loadtest,
// cmd/benchcompare) share about the processes they run: a free loopback
// address, starting a binary that ends on SIGTERM, waiting until it
// answers, and reading its resident memory from /proc.
package benchproc

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Command is a process to start: Bin with Args, Env added to the
// environment, its output to Output (nil discards it). When the context
// ends it gets SIGTERM, then WaitDelay to exit before it is killed.
type Command struct {
	Bin       string
	Args      []string
	Env       []string
	Output    io.Writer
	WaitDelay time.Duration
}

// Start starts c under ctx.
func (c Command) Start(ctx context.Context) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, c.Bin, c.Args...)
	cmd.Stdout, cmd.Stderr = c.Output, c.Output
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = c.WaitDelay
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Bin, err)
	}
	return cmd, nil
}

// WaitHTTP polls u until it answers 200, for at most timeout or until ctx
// ends.
func WaitHTTP(ctx context.Context, u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond) // polling a real process
	}
	return fmt.Errorf("%s not ready within %s", u, timeout)
}

// Memory reads a process's peak and current resident set in MiB (0 when
// /proc has no such process).
func Memory(pid int) (peak, rss int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmHWM:":
			peak = kb >> 10
		case "VmRSS:":
			rss = kb >> 10
		}
	}
	return peak, rss
}

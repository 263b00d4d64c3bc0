// Package main is the servescope command. servescope observes LLM serving
// on GPU clusters: it scrapes engines, GPU exporters and schedulers, stores
// the samples in an embedded TSDB, and answers whether the GPUs are used,
// why not, what to do and who pays.
//
// main only parses flags and turns signals into context cancellation; each
// subcommand lives in its own file and calls into internal/app.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
)

// command is one subcommand: its kingpin clause and what it runs.
type command struct {
	clause *kingpin.CmdClause
	run    func(ctx context.Context) error
}

// env carries the process's standard streams to the subcommands, so tests
// can run the whole CLI in-process.
type env struct {
	stdout io.Writer
	stderr io.Writer
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr}))
}

// run parses args, runs the chosen subcommand and returns the exit code.
func run(ctx context.Context, args []string, e env) (code int) {
	a := kingpin.New("servescope", "Are the GPUs used, why not, what to do, and who pays: observability for LLM serving on Kubernetes.")
	a.Version(versionString())
	a.HelpFlag.Short('h')
	a.UsageWriter(e.stdout)
	a.ErrorWriter(e.stderr)
	// kingpin ends the process after --help and --version; turn that into
	// a return so tests can run the CLI in-process.
	a.Terminate(func(code int) { panic(terminated(code)) })
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(t)
		}
	}()

	var cmds []command
	cmds = append(cmds, serveCommands(a, e)...)
	cmds = append(cmds, checkCommands(a, e)...)
	cmds = append(cmds, summaryCommands(a, e)...)
	cmds = append(cmds, simCommands(a, e)...)
	cmds = append(cmds, signalsCommands(a, e)...)
	cmds = append(cmds, generateCommands(a, e)...)
	cmds = append(cmds, costCommands(a, e)...)
	cmds = append(cmds, diagnoseCommands(a, e)...)
	cmds = append(cmds, topCommands(a, e)...)

	selected, err := a.Parse(joinNegative(args))
	if err != nil {
		fmt.Fprintf(e.stderr, "servescope: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range cmds {
		if c.clause.FullCommand() == selected {
			if err := c.run(ctx); err != nil {
				if quiet(ctx, err) {
					return 130 // interrupted: the person knows
				}
				fmt.Fprintf(e.stderr, "servescope %s: %v\n", selected, actionable(err))
				return 1
			}
			return 0
		}
	}
	return 0
}

// terminated carries kingpin's exit code out of Parse.
type terminated int

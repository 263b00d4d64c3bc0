package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/config/timespec"
	"github.com/servescope/servescope/internal/present/progress"
	"github.com/servescope/servescope/internal/sim"
)

// simFlags are shared by `sim` (serve) and `sim backfill`.
type simFlags struct {
	scenario, scenarioDir, logLevel string
	gpus                            int
	seed                            uint64
}

func (f *simFlags) load() (*sim.Scenario, error) {
	return sim.OpenScenario(f.scenarioDir, f.scenario)
}

// simCommands registers `sim` (serve a simulated cluster in real time) and
// `sim backfill` (write its history into a store).
func simCommands(a *kingpin.Application, e env) []command {
	var f simFlags
	c := a.Command("sim", "Run a simulated LLM serving cluster with ground truth.")
	c.Flag("scenario", "Scenario: a shipped one ("+strings.Join(sim.Shipped(), ", ")+"), a name in --scenario.dir, or the path of a scenario YAML file.").
		Default("healthy").HintOptions(sim.Shipped()...).StringVar(&f.scenario)
	c.Flag("scenario.dir", "Directory to read scenarios from by name instead of the ones built into the binary.").StringVar(&f.scenarioDir)
	c.Flag("gpus", "Fleet size in GPUs (0: the scenario's).").Default("0").IntVar(&f.gpus)
	c.Flag("seed", "Random seed: the same seed gives the same output.").Default("1").Uint64Var(&f.seed)
	c.Flag("log.level", "Log level: debug, info, warn, error.").Default("info").StringVar(&f.logLevel)

	serve := c.Command("serve", "Serve every target's /metrics, file_sd and /truth on one listener (the default).").Default()
	var listen, fileSD string
	var speed float64
	serve.Flag("listen", "Listen address.").Default("127.0.0.1:9500").StringVar(&listen)
	serve.Flag("speed", "Simulated seconds per real second.").Default("1").Float64Var(&speed)
	serve.Flag("file-sd", "Path of the Prometheus file_sd JSON to write (empty: none).").Default("sim-targets.json").StringVar(&fileSD)

	backfill := c.Command("backfill", "Write simulated history straight into a servescope store.")
	var hours float64
	var storagePath, into string
	var start, end time.Time
	var warmup time.Duration
	backfill.Flag("warmup", "Simulated before the history and not written, so it starts from a running fleet.").Default("5m").SetValue(durationValue{&warmup})
	backfill.Flag("hours", "Hours of history ending at --end.").Default("24").Float64Var(&hours)
	backfill.Flag("start", "Start of the history instead of --hours: "+timespec.Forms+".").SetValue(timeValue{&start, "--start"})
	backfill.Flag("end", "End of the history: "+timespec.Forms+"; default now, and the backfill catches up with the clock.").SetValue(timeValue{&end, "--end"})
	backfill.Flag("storage.path", "Directory of the embedded TSDB.").Default("./data").StringVar(&storagePath)
	backfill.Flag("into", "Data directory of a running servescope: write to --storage.path as scratch, then move the history there as blocks (it must end before the server's oldest sample).").StringVar(&into)
	var classic bool
	backfill.Flag("keep-classic-histograms", "Write classic histograms as a series per bucket, as servescope.keep_classic_histograms: true scrapes them; by default each is one native histogram with custom buckets, as serve stores it.").BoolVar(&classic)
	var external map[string]string
	backfill.Flag("external-label", "NAME=VALUE added to every series written, as Prometheus's global.external_labels (repeatable): --external-label cluster=eu-1 writes one of several clusters sending to one backend.").
		PlaceHolder("NAME=VALUE").SetValue(labelsValue{flag: "--external-label", m: &external})

	return []command{
		{clause: serve, run: func(ctx context.Context) error {
			return runSim(ctx, e, &f, listen, fileSD, speed)
		}},
		{clause: backfill, run: func(ctx context.Context) error {
			sc, err := f.load()
			if err != nil {
				return err
			}
			started := time.Now()
			dur := time.Duration(hours * float64(time.Hour))
			if !start.IsZero() {
				to := end
				if to.IsZero() {
					to = started
				}
				if dur = to.Sub(start); dur <= 0 {
					return fmt.Errorf("--start %s is not before the end %s", start.Format(time.RFC3339), to.Format(time.RFC3339))
				}
			}
			bar := progress.New(progress.Options{Writer: e.stderr, Label: fmt.Sprintf("backfill %s of %s", dur.Round(time.Second), sc.Name), Total: dur.Seconds(), Terminal: isTerminal(e.stderr)})
			defer bar.Stop() // a failure starts on its own line
			res, err := app.Backfill(ctx, app.BackfillOptions{Scenario: sc, GPUs: f.gpus, Seed: f.seed, Duration: dur, End: end, Warmup: warmup,
				StoragePath: storagePath, Into: into, ExternalLabels: external, ClassicHistograms: classic, Logger: newLogger(e, f.logLevel),
				Progress: func(done, total time.Duration) {
					bar.Set(done.Seconds() * dur.Seconds() / max(total.Seconds(), 1))
				}})
			if err != nil {
				return err
			}
			bar.Done()
			took := time.Since(started)
			dest := storagePath
			if into != "" {
				dest = into + " (as blocks)"
			}
			fmt.Fprintf(e.stdout, "backfilled %s: %d samples from %d scrapes (%d failed) over %s to %s in %s (%.0f samples/s)\n",
				sc.Name, res.Samples, res.Scrapes, res.Failed, res.End.Sub(res.Start), dest, took.Round(time.Millisecond),
				float64(res.Samples)/took.Seconds())
			return nil
		}},
	}
}

// runSim serves the simulated cluster until ctx is done.
func runSim(ctx context.Context, e env, f *simFlags, listen, fileSD string, speed float64) error {
	logger := newLogger(e, f.logLevel)
	sc, err := f.load()
	if err != nil {
		return err
	}
	gpus := f.gpus
	if gpus == 0 {
		gpus = sc.GPUs
	}
	if err := sim.CheckCapacity(gpus, speed); err != nil { // before building anything
		return err
	}
	c, err := sim.NewCluster(sim.Options{Scenario: sc, GPUs: f.gpus, Seed: f.seed, Start: time.Now().UTC().Truncate(time.Second), Logger: logger})
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	s, err := sim.NewServer(sim.ServerOptions{Cluster: c, Speed: speed, Address: ln.Addr().String(), FileSD: fileSD, Logger: logger})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2) // one from each goroutine; buffered so neither blocks
	go func() { errc <- srv.Serve(ln) }()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- s.Run(runCtx, time.Second) }()
	fmt.Fprintf(e.stdout, "servescope sim: scenario %s, %d GPUs, seed %d, speed %g on http://%s (file_sd %s, truth /truth)\n",
		sc.Name, c.GPUs(), f.seed, speed, ln.Addr(), fileSD)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down sim server: %w", err)
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

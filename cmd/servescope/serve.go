package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"

	"github.com/servescope/servescope/internal/app"
)

func newLogger(e env, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l}))
}

func serveCommands(a *kingpin.Application, e env) []command {
	c := a.Command("serve", "Scrape, store, evaluate and serve the API and dashboard.")
	var o app.Options
	var logLevel string
	c.Flag("config", "Path of the config file (Prometheus-style YAML).").Default("servescope.yml").StringVar(&o.ConfigFile)
	c.Flag("storage.path", "Directory of the embedded TSDB.").Default("./data").StringVar(&o.StoragePath)
	c.Flag("storage.retention", "How long to keep samples.").Default("15d").SetValue(durationValue{&o.Retention})
	c.Flag("web.listen-address", "Address of the HTTP API and dashboard.").Default("127.0.0.1:9464").StringVar(&o.ListenAddress)
	c.Flag("web.config.file", "Path of a web config file (Prometheus's format, exporter-toolkit) enabling TLS and/or basic auth on every endpoint.").
		Default("").StringVar(&o.WebConfigFile)
	c.Flag("query.timeout", "Maximum time one query may take.").Default("2m").SetValue(durationValue{&o.QueryTimeout})
	c.Flag("query.max-samples", "Maximum samples one query may load into memory.").Default("50000000").IntVar(&o.QueryMaxSamples)
	c.Flag("query.max-concurrency", "Maximum API queries evaluated at once (0: GOMAXPROCS); the rule manager's evaluations do not count, so scraping and rules never wait for the API.").
		Default("0").IntVar(&o.QueryMaxConcurrency)
	c.Flag("query.max-queue", "Maximum API queries waiting for a slot (0: 16 per slot); more are refused at once with 503.").Default("0").IntVar(&o.QueryMaxQueue)
	c.Flag("query.queue-timeout", "How long a query waits for a free slot before it is refused with 503.").Default("10s").SetValue(durationValue{&o.QueryQueueTimeout})
	c.Flag("query.max-subquery-points", "Maximum points one subquery may evaluate per series, checked before evaluation (negative: no limit).").
		Default("1000000").Int64Var(&o.QueryMaxSubqueryPoints)
	c.Flag("query.memory-budget", "Live heap (as of the last garbage collection) over which queries are refused and running ones stopped, e.g. 3GiB (default: 80% of GOMEMLIMIT when set; a negative number: none).").
		Default("0").SetValue(bytesValue{&o.QueryMemoryBudget})
	autoMem := c.Flag("auto-gomemlimit", "Set GOMEMLIMIT to --auto-gomemlimit.ratio of the container's memory limit (its cgroup), or of the machine's memory, as Prometheus does; a GOMEMLIMIT variable wins.").
		Default("true").Bool()
	c.Flag("auto-gomemlimit.ratio", "Share of the memory limit GOMEMLIMIT is set to, in (0, 1].").Default("0.9").Float64Var(&o.AutoMemLimitRatio)
	c.Flag("auto-gomaxprocs", "Under a CPU quota below two cores (the container's cgroup), set GOMAXPROCS to 1, not the Go runtime's minimum of 2, so the process is not throttled for most of each period; a GOMAXPROCS variable wins.").
		Default("true").BoolVar(&o.AutoMaxProcs)
	c.Flag("web.max-response-bytes", "Maximum size of one API response (negative: no limit).").Default("67108864").IntVar(&o.MaxResponseBytes)
	c.Flag("query.remote-url", "Read a Prometheus-compatible API (Prometheus, Thanos, Mimir) instead of the embedded store: the external-Prometheus mode.").
		Envar("SERVESCOPE_EXTERNAL_PROMETHEUS_URL").StringVar(&o.RemoteURL)
	c.Flag("query.remote-recorded", "The external Prometheus evaluates servescope's recording rules (servescope rules): the dashboard reads the recorded series.").
		BoolVar(&o.RemoteRecorded)
	c.Flag("agent", "Agent mode, one per cluster: scrape into a WAL-only store and send everything to the config's remote_write (required); no queries, rules, diagnosis or dashboard.").
		BoolVar(&o.Agent)
	c.Flag("web.enable-pprof", "Serve Go's runtime profiles under /debug/pprof/ (go tool pprof http://ADDRESS/debug/pprof/profile), as Prometheus does.").BoolVar(&o.Pprof)
	c.Flag("log.level", "Log level: debug, info, warn, error.").Default("info").StringVar(&logLevel)
	return []command{{clause: c, run: func(ctx context.Context) error {
		o.Logger = newLogger(e, logLevel)
		if !*autoMem {
			o.AutoMemLimitRatio = 0
		} else if r := o.AutoMemLimitRatio; r <= 0 || r > 1 {
			return fmt.Errorf("--auto-gomemlimit.ratio %g: want a share in (0, 1]", r)
		}
		o.Build = buildInfo()
		o.Flags = flagValues(a, c)
		s, err := app.New(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "servescope listening on http://%s\n", s.Addr())
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-hup:
					if err := s.Reload(ctx); err != nil {
						o.Logger.Error("reload", "err", err)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		return s.Run(ctx)
	}}}
}

func checkCommands(a *kingpin.Application, e env) []command {
	check := a.Command("check", "Check configuration and rules files.")
	c := check.Command("config", "Validate config files; errors name the file and line.")
	files := c.Arg("file", "Config files to check.").Required().ExistingFiles()
	return []command{{clause: c, run: func(context.Context) error {
		failed := 0
		for _, f := range *files {
			cfg, err := app.CheckConfig(f)
			if err != nil {
				fmt.Fprintf(e.stderr, "FAILED: %v\n", err)
				failed++
				continue
			}
			fmt.Fprintf(e.stdout, "SUCCESS: %s is valid (%d scrape configs)\n", f, len(cfg.Prometheus.ScrapeConfigs))
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d config files are invalid", failed, len(*files))
		}
		return nil
	}}}
}

// bytesValue is a kingpin flag value that accepts byte sizes such as 3GiB
// or 512MB (base 2), or a plain number of bytes.
type bytesValue struct{ n *int64 }

func (v bytesValue) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*v.n = n
		return nil
	}
	b, err := units.ParseBase2Bytes(s)
	if err != nil {
		return fmt.Errorf("byte size %q: %w", s, err)
	}
	*v.n = int64(b)
	return nil
}

func (v bytesValue) String() string {
	if v.n == nil {
		return ""
	}
	return strconv.FormatInt(*v.n, 10)
}

func summaryCommands(a *kingpin.Application, e env) []command {
	c := a.Command("summary", "Print a one-screen summary from a servescope or any Prometheus-compatible server.")
	server := c.Flag("server", "Base URL of the server.").Default("http://127.0.0.1:9464").String()
	var set settingsFlags
	addSettings(c, &set, withTeamLabel|withPrices|withQueueTeams)
	var cluster string
	addCluster(c, &cluster)
	return []command{{clause: c, run: func(ctx context.Context) error {
		st, err := set.resolve()
		if err != nil {
			return err
		}
		return app.WriteSummary(ctx, e.stdout, *server, st.Cost(), cluster, time.Now())
	}}}
}

// flagValues are the parsed flags of the application and of c, by name,
// for /api/v1/status/flags.
func flagValues(a *kingpin.Application, c *kingpin.CmdClause) map[string]string {
	out := map[string]string{}
	for _, f := range append(a.Model().Flags, c.Model().Flags...) {
		out[f.Name] = f.Value.String()
	}
	return out
}

package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// GPUsPerCore is the design budget of the real-time simulator: one core
// steps 40,000 simulated GPUs at speed 1 and renders them for a 15 s
// scrape (10,000 GPUs on 0.25 core). BenchmarkFleet10000 measures the real
// figure; CheckCapacity refuses what would exceed this budget instead of
// silently falling behind.
const GPUsPerCore = 40_000

// CheckCapacity reports whether gpus at speed fit the machine's cores.
func CheckCapacity(gpus int, speed float64) error {
	cores := runtime.GOMAXPROCS(0)
	limit := float64(cores * GPUsPerCore)
	if need := float64(gpus) * speed; need > limit {
		return fmt.Errorf("--gpus %d at --speed %g needs %.0f simulated GPU-seconds per second; this machine's limit is %.0f (%d cores × %d GPUs per core): lower --gpus or --speed",
			gpus, speed, need, limit, cores, GPUsPerCore)
	}
	return nil
}

// TargetGroup is one entry of a Prometheus file_sd file.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// HonorLabelsMeta is the file_sd meta label that says how a target should be
// scraped: a config keeps the "true" ones in a job with honor_labels true
// and the rest in one with honor_labels false (scripts/demo.sh does).
const HonorLabelsMeta = "__meta_sim_honor_labels"

// FileSD turns targets into file_sd groups served at address: one group per
// target, with job, __metrics_path__ and the target labels a
// PodMonitor/ServiceMonitor would attach (instance, namespace, pod,
// container). Scrape the dcgm-exporter job with honor_labels as Target.HonorLabels
// says (the scenario's exporter.honor_labels): false stores the exporter's
// pod/namespace/container labels as exported_*.
func FileSD(address string, targets []Target) []TargetGroup {
	groups := make([]TargetGroup, 0, len(targets))
	for _, t := range targets {
		l := map[string]string{"job": t.Job, "__metrics_path__": t.Path, HonorLabelsMeta: strconv.FormatBool(t.HonorLabels)}
		for k, v := range t.Labels {
			l[k] = v
		}
		groups = append(groups, TargetGroup{Targets: []string{address}, Labels: l})
	}
	return groups
}

// WriteFileSD writes the file_sd JSON atomically (temp file and rename), as
// Prometheus's file watcher expects.
func WriteFileSD(path, address string, targets []Target) error {
	b, err := json.MarshalIndent(FileSD(address, targets), "", "  ")
	if err != nil {
		return fmt.Errorf("encode file_sd %q: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".file_sd-*.json")
	if err != nil {
		return fmt.Errorf("write file_sd %q: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write file_sd %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write file_sd %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write file_sd %q: %w", path, err)
	}
	return nil
}

// ServerOptions configures a Server.
type ServerOptions struct {
	// Cluster is the simulated cluster to serve.
	Cluster *Cluster
	// Speed is simulated seconds per real second (default 1).
	Speed float64
	// Address is the host:port written into file_sd (the listener's).
	Address string
	// FileSD is the path of the file_sd JSON to keep up to date; empty writes none.
	FileSD string
	// Clock returns the wall time; nil means time.Now. Tests inject one.
	Clock func() time.Time
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
}

// Server serves the cluster's targets, file_sd and truth over HTTP and
// advances simulated time with the wall clock × speed.
type Server struct {
	o          ServerOptions
	logger     *slog.Logger
	mux        *http.ServeMux
	wallStart  time.Time
	simStart   time.Time
	lastPaths  []string
	behindFrom time.Time
}

// NewServer checks the capacity budget and builds the HTTP routes.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Cluster == nil {
		return nil, errors.New("sim server: no cluster")
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckCapacity(o.Cluster.GPUs(), o.Speed); err != nil {
		return nil, err
	}
	s := &Server{o: o, logger: o.Logger.With("component", "sim-server"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /targets/", s.serveTarget)
	s.mux.HandleFunc("GET /targets", s.serveTargetList)
	s.mux.HandleFunc("GET /truth", s.serveTruth)
	s.mux.HandleFunc("GET /file_sd.json", s.serveFileSD)
	s.mux.HandleFunc("GET /{$}", s.serveIndex)
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) serveTarget(w http.ResponseWriter, r *http.Request) {
	b, err := s.o.Cluster.scrape(r.URL.Path)
	switch {
	case errors.Is(err, ErrNoTarget):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case errors.Is(err, ErrTargetDown):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		s.logger.Error("render target", "path", r.URL.Path, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", TextContentType)
	if _, err := w.Write(b); err != nil {
		s.logger.Debug("write target", "path", r.URL.Path, "err", err)
	}
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.logger.Debug("write json", "err", err)
	}
}

func (s *Server) serveTargetList(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, s.o.Cluster.Targets())
}

// serveTruth serves the truth of the last ?minutes=N simulated minutes
// (default 60; 0 for all that is retained).
func (s *Server) serveTruth(w http.ResponseWriter, r *http.Request) {
	minutes := 60
	if v := r.URL.Query().Get("minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("minutes %q: want a non-negative integer", v), http.StatusBadRequest)
			return
		}
		minutes = n
	}
	var since time.Time
	if minutes > 0 {
		since = s.o.Cluster.Now().Add(-time.Duration(minutes) * time.Minute)
	}
	s.writeJSON(w, s.o.Cluster.TruthSince(since))
}

func (s *Server) serveFileSD(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, FileSD(s.o.Address, s.o.Cluster.Targets()))
}

func (s *Server) serveIndex(w http.ResponseWriter, _ *http.Request) {
	c := s.o.Cluster
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "servescope sim: scenario %s, %d GPUs, seed %d, simulated time %s, speed %g\n\n",
		c.Scenario().Name, c.GPUs(), c.seed, c.Now().Format(time.RFC3339), s.o.Speed)
	fmt.Fprintln(w, "/targets        the scrape targets (JSON)\n/file_sd.json   the same as a Prometheus file_sd list\n/truth          the ground truth (JSON; ?minutes=N, default 60, 0 for all)\n/targets/…/metrics  one target's exposition")
	tr := c.TruthSince(c.Now().Add(-time.Hour))
	counts := tr.StateCounts()
	fmt.Fprintf(w, "\ntrue pod states, last hour (pod-minutes):\n")
	for _, st := range sortedKeys(counts) {
		fmt.Fprintf(w, "  %-18s %d\n", st, counts[st])
	}
	full := c.Truth()
	fmt.Fprintf(w, "\ntrue GPU-hours since start: fleet %.1f, allocated %.1f, used %.1f, idle %.1f\n",
		full.Fleet.GPUHours, full.Fleet.AllocatedGPUHours, full.Fleet.UsedGPUHours, full.Fleet.IdleGPUHours)
	for _, t := range full.Teams {
		fmt.Fprintf(w, "  team %-12s reserved %.1f, allocated %.1f, used %.1f\n", t.Team, t.ReservedGPUHours, t.AllocatedGPUHours, t.UsedGPUHours)
	}
}

// Sync advances the simulation to the simulated time that corresponds to
// the wall clock and rewrites file_sd when the targets changed. It returns
// an error when stepping falls more than 30 s of wall time behind.
func (s *Server) Sync() error {
	now := s.o.Clock()
	if s.wallStart.IsZero() {
		s.wallStart, s.simStart = now, s.o.Cluster.Now()
	}
	target := s.simStart.Add(time.Duration(float64(now.Sub(s.wallStart)) * s.o.Speed))
	s.o.Cluster.Step(target)
	lag := target.Sub(s.o.Cluster.Now())
	if lag > time.Duration(float64(2*time.Second)*s.o.Speed) {
		if s.behindFrom.IsZero() {
			s.behindFrom = now
		}
		if now.Sub(s.behindFrom) > 30*time.Second {
			return fmt.Errorf("simulation fell %s of simulated time behind the wall clock for 30s: lower --gpus or --speed", lag.Round(time.Second))
		}
	} else {
		s.behindFrom = time.Time{}
	}
	return s.syncFileSD()
}

func (s *Server) syncFileSD() error {
	if s.o.FileSD == "" {
		return nil
	}
	ts := s.o.Cluster.Targets()
	paths := make([]string, len(ts))
	for i, t := range ts {
		paths[i] = t.Path
	}
	if slices.Equal(paths, s.lastPaths) {
		return nil
	}
	if err := WriteFileSD(s.o.FileSD, s.o.Address, ts); err != nil {
		return err
	}
	s.lastPaths = paths
	s.logger.Info("file_sd written", "path", s.o.FileSD, "targets", len(ts))
	return nil
}

// Run syncs every interval until ctx is done.
func (s *Server) Run(ctx context.Context, interval time.Duration) error {
	if err := s.Sync(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Sync(); err != nil {
				return err
			}
		}
	}
}

package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
	return rec
}

func TestServer(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "exporter-down", 16)
	wall := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sd := filepath.Join(t.TempDir(), "targets.json")
	s, err := NewServer(ServerOptions{Cluster: c, Speed: 60, Address: "127.0.0.1:9500", FileSD: sd, Clock: func() time.Time { return wall }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	wall = wall.Add(15 * time.Second) // 15 minutes at speed 60: past the exporter outage at 10m
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now().Sub(c.Start()), 15*time.Minute; got != want {
		t.Fatalf("simulated %v, want %v", got, want)
	}
	h := s.Handler()

	var groups []TargetGroup
	b, err := os.ReadFile(sd)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		t.Fatalf("file_sd: %v", err)
	}
	down, ok := 0, 0
	for _, g := range groups {
		if len(g.Targets) != 1 || g.Targets[0] != "127.0.0.1:9500" || g.Labels["job"] == "" || g.Labels["__metrics_path__"] == "" {
			t.Fatalf("bad group %+v", g)
		}
		rec := get(t, h, g.Labels["__metrics_path__"])
		switch rec.Code {
		case http.StatusOK:
			ok++
			if ct := rec.Header().Get("Content-Type"); ct != TextContentType {
				t.Errorf("content type %q", ct)
			}
		case http.StatusServiceUnavailable:
			down++
		default:
			t.Errorf("%s: status %d", g.Labels["__metrics_path__"], rec.Code)
		}
		if g.Labels["job"] == "dcgm-exporter" && (g.Labels["namespace"] != "gpu-operator" || !strings.HasPrefix(g.Labels["pod"], "nvidia-dcgm-exporter-")) {
			t.Errorf("dcgm target labels %v, want the exporter's namespace and pod", g.Labels)
		}
	}
	if down != 1 || ok == 0 {
		t.Errorf("%d targets up, %d down; want 1 down (exporter-down takes a quarter of the nodes: one of two at 16 GPUs)", ok, down)
	}
	if rec := get(t, h, "/targets/nope/nope/metrics"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown target: status %d", rec.Code)
	}
	var tr Truth
	if err := json.Unmarshal(get(t, h, "/truth").Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.StateCounts()[StateExporterDown] == 0 || tr.Scenario != "exporter-down" {
		t.Errorf("truth: %v", tr.StateCounts())
	}
	if rec := get(t, h, "/truth?minutes=x"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad minutes: status %d", rec.Code)
	}
	var recent Truth
	if err := json.Unmarshal(get(t, h, "/truth?minutes=2").Body.Bytes(), &recent); err != nil {
		t.Fatal(err)
	}
	for _, p := range recent.Pods {
		if len(p.Minutes) > 2 {
			t.Errorf("%s: %d minutes, want at most 2", p.Pod, len(p.Minutes))
		}
	}
	if rec := get(t, h, "/"); !strings.Contains(rec.Body.String(), "exporter-down") {
		t.Errorf("index: %s", rec.Body.String())
	}
}

func TestServerRefusesBeyondCapacity(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, "healthy", 64)
	_, err := NewServer(ServerOptions{Cluster: c, Speed: 1e6})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err = %v, want the capacity limit", err)
	}
}

// TestServerRunFollowsClock runs the real-time loop in a synctest bubble:
// two minutes of fake wall time at speed 2 make four simulated minutes.
func TestServerRunFollowsClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTestCluster(t, "idle", 8)
		s, err := NewServer(ServerOptions{Cluster: c, Speed: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, time.Second) }()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := c.Now().Sub(c.Start()); got != 4*time.Minute {
			t.Errorf("simulated %v after 2m at speed 2, want 4m", got)
		}
	})
}

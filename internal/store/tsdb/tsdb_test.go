package tsdb

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
)

// TestModes opens the TSDB and the agent store: both take appends through
// the store contract and register remote write's metrics; only the TSDB
// answers queries and snapshots.
func TestModes(t *testing.T) {
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "tsdb", true: "agent"}[agent], func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			d, err := Open(Options{Path: filepath.Join(t.TempDir(), "data"), Agent: agent, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := d.Close(); err != nil {
					t.Error(err)
				}
			}()
			if d.Agent() != agent {
				t.Errorf("Agent() = %v", d.Agent())
			}
			app := d.Appender(t.Context())
			if err := app.Append(labels.FromStrings("__name__", "up", "job", "x"), 1000, 1); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			q, err := d.Queryable().Querier(0, 2000)
			if agent {
				if err == nil {
					t.Error("the agent store answered a query")
				}
				if err := d.Snapshot(t.TempDir()); !errors.Is(err, ErrAgent) {
					t.Errorf("agent snapshot: %v, want ErrAgent", err)
				}
				if n := d.HeadSeries(); n != 0 {
					t.Errorf("agent head series %d", n)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				q.Close()
				if n := d.HeadSeries(); n != 1 {
					t.Errorf("head series %d, want 1", n)
				}
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, mf := range mfs {
				found = found || strings.HasPrefix(mf.GetName(), "prometheus_remote_storage_")
			}
			if !found {
				t.Error("no prometheus_remote_storage_* metric registered")
			}
		})
	}
}

// TestApplyConfigNeedsScrapeManager: remote_write sends the targets'
// metadata, so a queue cannot start before the scrape manager is given.
func TestApplyConfigNeedsScrapeManager(t *testing.T) {
	t.Parallel()
	d, err := Open(Options{Path: filepath.Join(t.TempDir(), "data"), Agent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg, err := promconfig.Load("remote_write: [{url: 'http://127.0.0.1:1/api/v1/write'}]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyConfig(cfg); err == nil || !strings.Contains(err.Error(), "scrape manager") {
		t.Errorf("ApplyConfig without a scrape manager: %v", err)
	}
	if err := d.ApplyConfig(&promconfig.Config{}); err != nil {
		t.Errorf("ApplyConfig without remote_write: %v", err)
	}
}

// TestAgentRefusesTSDB: the agent does not open a TSDB's directory.
func TestAgentRefusesTSDB(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data")
	d, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: path, Agent: true}); err == nil || !strings.Contains(err.Error(), "holds a TSDB") {
		t.Errorf("agent over a TSDB: %v", err)
	}
}

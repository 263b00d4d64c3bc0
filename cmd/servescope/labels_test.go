package main

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
)

func TestLabelsValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want map[string]string
		err  string
	}{
		{args: nil, want: nil},
		{args: []string{"cluster=eu-1"}, want: map[string]string{"cluster": "eu-1"}},
		{args: []string{"cluster=eu-1", "region=a=b"}, want: map[string]string{"cluster": "eu-1", "region": "a=b"}},
		{args: []string{"cluster"}, err: "want NAME=VALUE"},
		{args: []string{"=eu-1"}, err: "not a valid label name"},
		{args: []string{"my-cluster=eu-1"}, err: "not a valid label name"},
		{args: []string{"__cluster=eu-1"}, err: "reserved"},
		{args: []string{"cluster="}, err: "value is empty"},
		{args: []string{"cluster=eu-1", "cluster=us-1"}, err: `cluster is already "eu-1"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var m map[string]string
			v := labelsValue{flag: "--external-label", m: &m}
			var err error
			for _, a := range tc.args {
				if err = v.Set(a); err != nil {
					break
				}
			}
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--external-label") {
					t.Errorf("error %v, want one naming the flag and saying %q", err, tc.err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case len(m) != len(tc.want):
				t.Errorf("got %v, want %v", m, tc.want)
			default:
				for k, want := range tc.want {
					if m[k] != want {
						t.Errorf("got %v, want %v", m, tc.want)
					}
				}
			}
		})
	}
}

// TestBackfillExternalLabels backfills two simulated clusters by hand into
// one store, each with its own --external-label cluster=: every series
// carries its cluster, every scraped one the other label too, and a bad
// label fails before anything is written.
func TestBackfillExternalLabels(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	for _, c := range []string{"eu-1", "us-1"} {
		var stdout, stderr bytes.Buffer
		args := []string{"sim", "backfill", "--gpus", "4", "--hours", "0.02", "--warmup", "0s", "--end", "2026-01-01T00:00:00Z",
			"--storage.path", store, "--external-label", "cluster=" + c, "--external-label", "region=west"}
		if code := run(t.Context(), args, env{stdout: &stdout, stderr: &stderr}); code != 0 {
			t.Fatalf("cluster %s: exit %d: %s", c, code, stderr.String())
		}
	}
	db, err := tsdb.OpenDBReadOnly(store, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	named := labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")
	// The short history (two rule evaluations) still has recorded series
	// for the checks below to read.
	if ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, "servescope:.+")); !ss.Next() {
		t.Error("no recorded series in the backfilled store")
	}
	for name, want := range map[string][]string{"cluster": {"eu-1", "us-1"}, "region": {"west"}} {
		got, _, err := q.LabelValues(t.Context(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: values %v, want %v", name, got, want)
		}
		// Every scraped series carries it, and the cluster also every
		// recorded one (the catalog's rules keep the cluster label alone).
		sel := named
		if name != "cluster" {
			sel = labels.MustNewMatcher(labels.MatchNotRegexp, model.MetricNameLabel, "servescope:.+")
		}
		without := labels.MustNewMatcher(labels.MatchEqual, name, "")
		if ss := q.Select(t.Context(), false, nil, sel, without); ss.Next() {
			t.Errorf("series without %s: %s", name, ss.At().Labels())
		}
	}

	var stdout, stderr bytes.Buffer
	bad := filepath.Join(dir, "bad")
	code := run(t.Context(), []string{"sim", "backfill", "--hours", "0.05", "--storage.path", bad, "--external-label", "cluster"}, env{stdout: &stdout, stderr: &stderr})
	if code == 0 || !strings.Contains(stderr.String(), "--external-label") {
		t.Errorf("bad label: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(bad); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bad label: %s written (%v)", bad, err)
	}
}

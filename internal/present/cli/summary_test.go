package cli

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/servescope/servescope/internal/analyze/cluster"
	"github.com/servescope/servescope/internal/analyze/cost"
	"github.com/servescope/servescope/internal/analyze/fleet"
	"github.com/servescope/servescope/internal/analyze/query"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/golden"
)

// twoClusters is topSeries in cluster eu-1 (nodes of 3 and 2 GPUs) and its
// pod chat/llama-a (1000 tokens/s) again in cluster us-1, on a node-1 of
// two GPUs: the same pod and node names twice.
func twoClusters() string {
	lines := strings.Split(strings.TrimSpace(topSeries), "\n")
	out := []string{lines[0],
		`  kube_node_status_allocatable{cluster="eu-1",node="node-1",resource="nvidia_com_gpu"} 3x80`,
		`  kube_node_status_allocatable{cluster="eu-1",node="node-2",resource="nvidia_com_gpu"} 2x80`,
		`  kube_node_status_allocatable{cluster="us-1",node="node-1",resource="nvidia_com_gpu"} 2x80`,
	}
	for _, l := range lines[1:] {
		out = append(out, strings.Replace(l, "{", `{cluster="eu-1",`, 1))
		if strings.Contains(l, `pod="llama-a"`) {
			out = append(out, strings.Replace(l, "{", `{cluster="us-1",`, 1))
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// summaryField returns the value of the summary line labelled label.
func summaryField(t *testing.T, text, label string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "  "); ok && k == label {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no line %q in\n%s", label, text)
	return ""
}

// TestSummaryClusters: over two clusters the summary adds a line per
// cluster whose figures are the one-cluster summary's (--cluster) and add
// up to the fleet's; a fleet without the cluster label has no such line.
func TestSummaryClusters(t *testing.T) {
	t.Parallel()
	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calc, err := cost.New(cost.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fleet.New(fleet.Options{Cost: calc, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, 0).Add(19*time.Minute + 50*time.Second)
	summary := func(series, name string) string {
		st := promqltest.LoadedStorage(t, series)
		t.Cleanup(func() { st.Close() })
		eng := query.NewEngine(st, query.EngineOptions{Registerer: prometheus.NewRegistry(), MaxSamples: 1e7, Timeout: time.Minute})
		var b bytes.Buffer
		if err := Summary(t.Context(), &b, SummaryOptions{Querier: cluster.Scope(eng, cluster.DefaultLabel, name), Fleet: fc, Catalog: cat, Cluster: name}, at); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	all := summary(twoClusters(), "")
	golden.Compare(t, filepath.Join("testdata", "summary-clusters.golden"), []byte(all))
	line := regexp.MustCompile(`(?m)^  cluster (\S+)  +(\d+) GPUs?, busy ([0-9.]+)%, .*, ([0-9.e+]+) tokens/s$`)
	per := line.FindAllStringSubmatch(all, -1)
	if len(per) != 2 || per[0][1] != "eu-1" || per[1][1] != "us-1" {
		t.Fatalf("cluster lines %q, want eu-1 then us-1 in\n%s", per, all)
	}
	var tokens float64
	for _, m := range per {
		one := summary(twoClusters(), m[1])
		if got := summaryField(t, one, "cluster"); got != m[1] {
			t.Errorf("--cluster %s: header says %q", m[1], got)
		}
		if line.MatchString(one) {
			t.Errorf("--cluster %s: a per-cluster line in\n%s", m[1], one)
		}
		if gpus := summaryField(t, one, "physical GPUs"); gpus != m[2]+" GPUs" {
			t.Errorf("cluster %s: line says %s GPUs, --cluster says %s", m[1], m[2], gpus)
		}
		if tps := summaryField(t, one, "generation tokens/s"); tps != m[4] {
			t.Errorf("cluster %s: line says %s tokens/s, --cluster says %s", m[1], m[4], tps)
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		tokens += v
	}
	if per[0][2] != "5" || per[1][2] != "2" || per[1][4] != "1000" {
		t.Errorf("eu-1: %s GPUs, us-1: %s GPUs, %s tokens/s; want 5, 2 and 1000", per[0][2], per[1][2], per[1][4])
	}
	if got := summaryField(t, all, "physical GPUs"); got != "7 GPUs" {
		t.Errorf("fleet: %s, want 7 GPUs", got)
	}
	if got := summaryField(t, all, "generation tokens/s"); got != strconv.FormatFloat(tokens, 'g', 6, 64) {
		t.Errorf("fleet tokens/s %s, clusters add up to %g", got, tokens)
	}
	if one := summary(topSeries, ""); strings.Contains(one, "cluster") {
		t.Errorf("a fleet without the cluster label names clusters:\n%s", one)
	}
}

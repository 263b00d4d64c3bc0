package sim

import (
	"strings"
	"testing"
	"time"
)

// TestQueueTruth: each admission scenario's queues spend most minutes
// after the first ten in the state the scenario describes, and the others
// stay healthy.
func TestQueueTruth(t *testing.T) {
	t.Parallel()
	want := map[string]map[string]State{
		"stranded-quota": {"nlp": StateStrandedQuota, "vision": StateHealthy},
		"quota-starved":  {"research": StateQuotaStarved, "imaging": StateAdmittedNotRunning},
	}
	for name, queues := range want {
		c := newTestCluster(t, name, 16)
		c.Step(c.Start().Add(25 * time.Minute))
		tr := c.Truth()
		if len(tr.Queues) != len(queues) {
			t.Fatalf("%s: %d queues, want %d", name, len(tr.Queues), len(queues))
		}
		for _, q := range tr.Queues {
			n, hit := 0, 0
			for _, m := range q.Minutes {
				if m.Time.Before(c.Start().Add(12 * time.Minute)) {
					continue
				}
				n++
				if m.State == queues[q.ClusterQueue] {
					hit++
				}
			}
			if n == 0 || float64(hit) < 0.8*float64(n) {
				t.Errorf("%s %s: %d of %d minutes %s", name, q.ClusterQueue, hit, n, queues[q.ClusterQueue])
			}
		}
	}
}

// TestKueueVersionGates: a release renders only the families it has;
// absent families are absent, never 0.
func TestKueueVersionGates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		has     map[string]bool
	}{
		{"v0.16.3", map[string]bool{"kueue_cohort_subtree_quota": false, "kueue_cluster_queue_resource_pending": false, "kueue_unadmitted_workloads": false, "kueue_cluster_queue_info": false}},
		{"v0.17.0", map[string]bool{"kueue_cohort_subtree_quota": true, "kueue_cluster_queue_resource_pending": false, "kueue_unadmitted_workloads": false}},
		{"v0.18.1", map[string]bool{"kueue_cluster_queue_resource_pending": true, "kueue_cluster_queue_info": true, "kueue_unadmitted_workloads": false}},
		{"v0.19.2", map[string]bool{"kueue_cluster_queue_resource_pending": true, "kueue_unadmitted_workloads": true, "kueue_local_queue_unadmitted_workloads": true,
			"kueue_admitted_until_ready_wait_time_seconds": true}},
	} {
		sc := loadExample(t, "stranded-quota")
		sc.Kueue.Version, sc.Kueue.WaitForPodsReady = tc.version, true
		c, err := NewCluster(Options{Scenario: sc, GPUs: 16, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		c.Step(c.Start().Add(15 * time.Minute))
		b, err := c.RenderBytes("/targets/kueue/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for fam, want := range tc.has {
			if got := strings.Contains(text, "\n# TYPE "+fam+" "); got != want {
				t.Errorf("%s: family %s present %v, want %v", tc.version, fam, got, want)
			}
		}
		if !strings.Contains(text, `git_version="`+tc.version+`"`) {
			t.Errorf("%s: kueue_build_info does not name the version", tc.version)
		}
	}
	sc := loadExample(t, "quota-starved")
	sc.Kueue.Version = "v0.12.0"
	if _, r := sc.validate(); !strings.Contains(r, "older than") {
		t.Errorf("v0.12.0 accepted: %q", r)
	}
}

package simcheck

import (
	"testing"

	"github.com/servescope/servescope/internal/schema/schematest"
)

// checkGPUHealth: on gpu-failure the catalog's health signals show the
// truth's failed GPUs and only them: row remapping failed on the XID 64
// GPU, its uncorrectable rows counted, each failed GPU's XID counted at
// least twice in the exporter's window under its code, its last XID its
// code, and a health watch failing (20); every other GPU passes, with a
// count of 0.
func checkGPUHealth(t *testing.T, r simRun) {
	at, c, st := r.end.Add(-r.every), r.c, r.st
	failed := map[string]int{}
	for _, f := range c.Truth().GPUFailures {
		failed[f.UUID] = f.XID
	}
	if len(failed) != 2 {
		t.Fatalf("truth: %v, want two failed GPUs", failed)
	}
	cat := r.cat
	eng := schematest.NewEngine()
	read := func(name string) map[string][]float64 {
		q, err := cat.Query(name)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for _, s := range schematest.Instant(t, eng, st, q, at) {
			u := s.Metric.Get("uuid")
			out[u] = append(out[u], s.F)
			if name == "gpu_xid_errors" && s.F > 0 {
				if x := s.Metric.Get("xid"); x == "" || failed[u] == 0 {
					t.Errorf("gpu_xid_errors %s: %s = %g on a healthy GPU or without a code", u, s.Metric, s.F)
				}
			}
		}
		return out
	}
	maxOf := func(vs []float64) float64 {
		m := -1.0
		for _, v := range vs {
			m = max(m, v)
		}
		return m
	}
	remap, rows, count, status, last := read("gpu_row_remap_failure"), read("gpu_uncorrectable_remapped_rows"), read("gpu_xid_errors"), read("gpu_health_status"), read("gpu_last_xid")
	if len(remap) != 8 || len(status) != 8 || len(count) != 8 {
		t.Fatalf("GPUs reporting: remap %d, status %d, count %d; want 8", len(remap), len(status), len(count))
	}
	for u := range remap {
		xid, broken := failed[u]
		checks := []struct {
			what      string
			got, want float64
		}{
			{"gpu_last_xid", maxOf(last[u]), float64(xid)},
			{"gpu_health_status", maxOf(status[u]), map[bool]float64{true: 20, false: 0}[broken]},
			{"gpu_row_remap_failure", maxOf(remap[u]), map[bool]float64{true: 1, false: 0}[xid == 64]},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s %s = %g, want %g (failed with XID %d)", c.what, u, c.got, c.want, xid)
			}
		}
		if r := maxOf(rows[u]); (xid == 64) != (r > 0) {
			t.Errorf("gpu_uncorrectable_remapped_rows %s = %g (failed with XID %d)", u, r, xid)
		}
		if n := maxOf(count[u]); broken != (n >= 2) {
			t.Errorf("gpu_xid_errors %s = %g (failed with XID %d)", u, n, xid)
		}
	}
}

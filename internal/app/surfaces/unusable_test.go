package surfaces

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/servescope/servescope/internal/analyze/health"
	"github.com/servescope/servescope/internal/app"
	"github.com/servescope/servescope/internal/present/cli"
	"github.com/servescope/servescope/internal/present/web"
	"github.com/servescope/servescope/internal/schema"
	"github.com/servescope/servescope/internal/testutil/proc"
)

// TestUnusableAgree: on the gpu-failure scenario, /api/v1/fleet,
// /api/v1/diagnoses, the fleet report and top name the same unusable GPUs
// with the same XID codes, and they are the simulator's failed GPUs.
func TestUnusableAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 25 minutes of an 8-GPU fleet")
	}
	t.Parallel()
	f := simulateScenario(t, "gpu-failure.yml")
	want := map[string]string{}
	for _, g := range f.truth.GPUFailures {
		want[g.UUID] = health.XIDText([]int{g.XID})
	}
	if len(want) != 2 {
		t.Fatalf("truth: %+v, want two failed GPUs", f.truth.GPUFailures)
	}
	check := func(surface string, us []health.Unusable) {
		t.Helper()
		got := map[string]string{}
		for _, u := range us {
			got[u.UUID] = health.XIDText(u.XIDs)
		}
		if len(got) != len(want) {
			t.Errorf("%s: unusable %v, want %v", surface, got, want)
		}
		for uuid, x := range want {
			if got[uuid] != x {
				t.Errorf("%s: GPU %s: %q, want %q", surface, uuid, got[uuid], x)
			}
		}
	}
	var fl struct {
		UnusableGPUs int               `json:"unusableGpus"`
		Unusable     []health.Unusable `json:"unusable"`
	}
	proc.GetAPI(t, f.url+"/api/v1/fleet?"+windowQuery(f), &fl)
	check("/api/v1/fleet", fl.Unusable)
	if fl.UnusableGPUs != len(want) {
		t.Errorf("/api/v1/fleet: unusableGpus %d, want %d", fl.UnusableGPUs, len(want))
	}
	var dg struct {
		Unusable []health.Unusable `json:"unusable"`
	}
	proc.GetAPI(t, f.url+"/api/v1/diagnoses?"+windowQuery(f), &dg)
	check("/api/v1/diagnoses", dg.Unusable)

	var rb bytes.Buffer
	if err := app.WriteReport(t.Context(), &rb, app.ReportOptions{Server: f.url, Window: window, At: f.end, Format: web.FormatMarkdown,
		Cost: app.CostOptions{PriceBook: f.prices}}); err != nil {
		t.Fatal(err)
	}
	var rows []health.Unusable
	for _, l := range strings.Split(rb.String(), "\n") {
		c := strings.Split(strings.Trim(l, "| "), " | ")
		if len(c) == 6 && strings.HasPrefix(c[0], "GPU-") {
			var xids []int
			for _, x := range strings.Split(strings.TrimPrefix(c[3], "XID "), ", ") {
				if n, err := strconv.Atoi(x); err == nil {
					xids = append(xids, n)
				}
			}
			rows = append(rows, health.Unusable{UUID: c[0], XIDs: xids})
		}
	}
	check("fleet report", rows)

	cat, err := schema.New(schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	top, err := cli.NewTop(cli.TopOptions{Querier: f.eng, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := top.Rows(t.Context(), f.end); err != nil {
		t.Fatal(err)
	}
	line := top.FleetLine()
	for uuid, x := range want {
		if !strings.Contains(line, uuid+" ("+x+")") {
			t.Errorf("top: %q does not name %s (%s)", line, uuid, x)
		}
	}
	if n := strings.Count(line, "GPU-"); n != len(want) || !strings.HasPrefix(line, "unusable GPUs: ") {
		t.Errorf("top: %q, want the %d failed GPUs only", line, len(want))
	}
}

package sim

import (
	"slices"
	"strconv"
	"time"
)

// GPU failures: a gpu_failure event breaks one GPU for good. From then on
// its driver reports the event's XID again every gpuFailureXIDEvery,
// memory XIDs remap HBM rows (an uncorrectable error each, and with XID 64
// the remapping itself fails), DCGM's health check fails, the pod on it
// stalls, and no new pod is placed on it (the device plugin marks it
// unhealthy). dcgm-exporter shows it through DCGM_FI_DEV_XID_ERRORS (the
// last code) and the row-remap fields always, and through
// DCGM_EXP_XID_ERRORS_COUNT and DCGM_EXP_GPU_HEALTH_STATUS when the
// scenario's exporter.health_collectors turns them on.

const (
	// gpuFailureXIDEvery is how often a failed GPU reports its XID again.
	gpuFailureXIDEvery = 120.0
	// xidCountWindowMS is dcgm-exporter's --xid-count-window-size default.
	xidCountWindowMS = 300000
	// spareRows is how many uncorrectable errors remap a row before a
	// failure (the spare rows of a bank).
	spareRows = 8
)

// DCGM health results (dcgmHealthWatchResult_t).
const (
	healthPass = 0
	healthFail = 20
)

// healthWatches are the subsystems dcgm-exporter's health collector
// reports per GPU, in its order (gpu_health_collector.go).
var healthWatches = []string{"PCIE", "NVLINK", "PMU", "MCU", "MEM", "SM", "INFOROM", "THERMAL", "POWER", "DRIVER", "ALL"}

// memoryXID reports whether an XID code is an HBM memory error that
// remaps a row: 48 double-bit ECC, 63/64 row remapping event/failure, 94
// contained and 95 uncontained ECC errors.
func memoryXID(code int) bool { return slices.Contains([]int{48, 63, 64, 94, 95}, code) }

// healthIncident is the watch and error code DCGM's health check fails a
// GPU with for its XID.
func healthIncident(code int) (watch, errCode string) {
	switch {
	case code == 64:
		return "MEM", "DCGM_FR_ROW_REMAP_FAILURE"
	case code == 95:
		return "ALL", "DCGM_FR_UNCONTAINED_ERROR"
	case memoryXID(code):
		return "MEM", "DCGM_FR_UNCORRECTABLE_ROW_REMAP"
	case code == 79:
		return "ALL", "DCGM_FR_FALLEN_OFF_BUS"
	}
	return "ALL", "DCGM_FR_XID_ERROR"
}

// gpuHealth is a GPU's failure state.
type gpuHealth struct {
	failed       bool
	failedAt     float64
	xids         []xidAt // XIDs in the exporter's count window
	uncorrRows   float64
	remapFailure bool
	code         int // the XID it failed with
}

type xidAt struct {
	code int
	t    float64
}

// reportXID records an XID on the GPU at t: the last-error gauge, the
// count window and, for memory errors, the remapped rows.
func (g *gpu) reportXID(code int, t float64) {
	g.xid, g.xidAt = code, t
	g.health.xids = append(g.health.xids, xidAt{code, t})
	if memoryXID(code) {
		if g.health.uncorrRows < spareRows {
			g.health.uncorrRows++
		}
		if code == 64 || g.health.uncorrRows >= spareRows {
			g.health.remapFailure = true
		}
	}
}

// fail breaks the GPU at t with an XID code.
func (g *gpu) fail(code int, t float64) {
	if g.health.failed {
		return
	}
	g.health.failed, g.health.failedAt, g.health.code = true, t, code
	g.reportXID(code, t)
}

// stepHealth repeats each failed GPU's XID and ages the count windows.
//
//go:norace
func (c *Cluster) stepHealth(t float64) {
	for _, n := range c.nodes {
		for _, g := range n.units {
			h := &g.health
			if h.failed && t-g.xidAt >= gpuFailureXIDEvery {
				g.reportXID(g.xid, t)
			}
			cut := 0
			for cut < len(h.xids) && t-h.xids[cut].t >= xidCountWindowMS/1000 {
				cut++
			}
			h.xids = h.xids[cut:]
		}
	}
}

// unusable reports whether one of the pod's GPUs had failed by t.
//
//go:norace
func (p *pod) unusable(t float64) bool {
	for _, g := range p.units {
		if g.health.failed && g.health.failedAt <= t {
			return true
		}
	}
	return false
}

// GPUFailureTruth is one failed GPU: from Since on it is unusable (truth
// state unusable_gpu for the pod holding it, every minute after).
type GPUFailureTruth struct {
	Node  string    `json:"node"`
	UUID  string    `json:"uuid"`
	GPU   int       `json:"gpu"`
	XID   int       `json:"xid"`
	Since time.Time `json:"since"`
}

// gpuFailures lists the failed GPUs for the truth.
func (c *Cluster) gpuFailures() []GPUFailureTruth {
	var out []GPUFailureTruth
	for _, n := range c.nodes {
		for _, g := range n.units {
			if g.health.failed {
				out = append(out, GPUFailureTruth{Node: n.name, UUID: g.uuid, GPU: g.index, XID: g.health.code, Since: c.at(g.health.failedAt)})
			}
		}
	}
	return out
}

// dcgmHealthLabels is the label set of the exporter's own health
// families: the GPU's labels, the family's (sorted) value labels, then the
// pod attributes.
func dcgmHealthLabels(x Exporter, allocated, mig bool, extra ...string) []string {
	l := []string{"gpu", "UUID", "pci_bus_id", "device", "modelName"}
	if mig {
		l = append(l, "GPU_I_PROFILE", "GPU_I_ID")
	}
	l = append(l, x.HostnameLabel)
	if x.DriverVersionLabel {
		l = append(l, "DCGM_FI_DRIVER_VERSION")
	}
	l = append(l, extra...)
	if allocated {
		l = append(l, "container", "namespace", "pod", "pod_uid")
	}
	return l
}

// Names of the exporter's health families.
const (
	famXIDCount     = "DCGM_EXP_XID_ERRORS_COUNT"
	famHealthStatus = "DCGM_EXP_GPU_HEALTH_STATUS"
)

// dcgmHealthFamilies declares the health families' variants (only
// rendered with exporter.health_collectors): the XID count with and
// without its xid label (a GPU without XIDs in the window has one series,
// 0, without it) and the health status.
func dcgmHealthFamilies(x Exporter) []famSpec {
	var out []famSpec
	for _, alloc := range []bool{false, true} {
		for _, mig := range []bool{false, true} {
			k := dcgmKey("", alloc, mig)
			out = append(out,
				famSpec{name: famXIDCount, help: "Count of XID Errors within user-specified time window (see xid-count-window-size param).", typ: counterT,
					labels: dcgmHealthLabels(x, alloc, mig, "window_size_in_ms"), key: famXIDCount + k},
				famSpec{name: famXIDCount, help: "Count of XID Errors within user-specified time window (see xid-count-window-size param).", typ: counterT,
					labels: dcgmHealthLabels(x, alloc, mig, "window_size_in_ms", "xid"), key: famXIDCount + k + "x"},
				famSpec{name: famHealthStatus, help: "DCGM reported health status", typ: counterT,
					labels: dcgmHealthLabels(x, alloc, mig, "health_error_code", "health_watch"), key: famHealthStatus + k})
		}
	}
	return out
}

// collectDCGMHealth renders one GPU's health families; lv are its labels
// up to the hostname (and driver version), attrs its pod attributes.
func (c *Cluster) collectDCGMHealth(em emitter, g *gpu, alloc, mig bool, lv, attrs []string) {
	k := dcgmKey("", alloc, mig)
	descs := c.rend.dcgm.descs
	with := func(extra ...string) []string {
		return append(append(slices.Clone(lv), extra...), attrs...)
	}
	win := strconv.Itoa(xidCountWindowMS)
	if len(g.health.xids) == 0 {
		em.b.counter(descs[famXIDCount+k], 0, with(win))
	} else {
		count := map[int]int{}
		var codes []int
		for _, x := range g.health.xids {
			if count[x.code] == 0 {
				codes = append(codes, x.code)
			}
			count[x.code]++
		}
		slices.Sort(codes)
		for _, code := range codes {
			em.b.counter(descs[famXIDCount+k+"x"], float64(count[code]), with(win, strconv.Itoa(code)))
		}
	}
	fw, fc := "", ""
	if g.health.failed {
		fw, fc = healthIncident(g.health.code)
	}
	for _, w := range healthWatches {
		v, code := float64(healthPass), "DCGM_FR_OK"
		if w == fw {
			v, code = healthFail, fc
		}
		em.b.counter(descs[famHealthStatus+k], v, with(code, w))
	}
}

package sim

import (
	"math"
	"strconv"
	"strings"
)

// dcgmField is one dcgm-exporter default counter (etc/default-counters.csv).
type dcgmField struct {
	name, help string
	typ        famType
	notOnMIG   bool
}

func dcgmFields() []dcgmField {
	return []dcgmField{
		{"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", gaugeT, false},
		{"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", gaugeT, false},
		{"DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).", gaugeT, false},
		{"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", gaugeT, false},
		{"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", gaugeT, false},
		{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", counterT, false},
		{"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries.", counterT, false},
		{"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", gaugeT, true},
		{"DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", gaugeT, true},
		{"DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).", gaugeT, false},
		{"DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).", gaugeT, false},
		{"DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.", gaugeT, false},
		{"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", gaugeT, false},
		{"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", gaugeT, false},
		{"DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).", gaugeT, false},
		{"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "Total number of NVLink bandwidth counters for all lanes.", counterT, false},
		{"DCGM_FI_DEV_VGPU_LICENSE_STATUS", "vGPU License status", gaugeT, false},
		{"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for uncorrectable errors", counterT, false},
		{"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "Number of remapped rows for correctable errors", counterT, false},
		{"DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed", gaugeT, false},
		{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.", gaugeT, false},
		{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.", gaugeT, false},
		{"DCGM_FI_PROF_DRAM_ACTIVE", "Ratio of cycles the device memory interface is active sending or receiving data.", gaugeT, false},
		{"DCGM_FI_PROF_PCIE_TX_BYTES", "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", gaugeT, false},
		{"DCGM_FI_PROF_PCIE_RX_BYTES", "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", gaugeT, false},
	}
}

// dcgmLabels is the label set of a GPU series: allocated GPUs carry the
// pod attributes, MIG instances their profile and id.
func dcgmLabels(x Exporter, allocated, mig, xid bool) []string {
	l := []string{"gpu", "UUID", "pci_bus_id", "device", "modelName"}
	if mig {
		l = append(l, "GPU_I_PROFILE", "GPU_I_ID")
	}
	l = append(l, x.HostnameLabel)
	if x.DriverVersionLabel {
		l = append(l, "DCGM_FI_DRIVER_VERSION")
	}
	if allocated {
		l = append(l, "container", "namespace", "pod", "pod_uid")
	}
	if xid {
		l = append(l, "err_code", "err_msg")
	}
	return l
}

// dcgmKey names the descriptor variant of a field.
func dcgmKey(name string, allocated, mig bool) string {
	k := name + "|"
	if allocated {
		k += "a"
	}
	if mig {
		k += "m"
	}
	return k
}

// dcgmFamilies declares every variant; the help text is shared, as the
// registry requires.
func dcgmFamilies(x Exporter) []famSpec {
	var out []famSpec
	for _, f := range dcgmFields() {
		for _, alloc := range []bool{false, true} {
			for _, mig := range []bool{false, true} {
				out = append(out, famSpec{name: f.name, help: f.help, typ: f.typ, labels: dcgmLabels(x, alloc, mig, f.name == "DCGM_FI_DEV_XID_ERRORS"), key: dcgmKey(f.name, alloc, mig)})
			}
		}
	}
	if x.HealthCollectors {
		out = append(out, dcgmHealthFamilies(x)...)
	}
	return out
}

// xidMessage is dcgm-exporter's text for the few XIDs the simulator raises.
func xidMessage(code int) string {
	switch code {
	case 0:
		return "No Error"
	case 13:
		return "Graphics Engine Exception"
	case 31:
		return "GPU memory page fault"
	case 48:
		return "Double Bit ECC Error"
	case 79:
		return "GPU has fallen off the bus"
	case 94:
		return "Contained ECC error"
	}
	return "Unknown Error"
}

// collectDCGM renders one node's dcgm-exporter.
func (c *Cluster) collectDCGM(em emitter, n *node) {
	x := c.sc.Exporter
	for _, g := range n.units {
		mig := g.migID >= 0
		alloc := g.pod != nil && g.pod.phase == phaseRunning
		lv := []string{strconv.Itoa(g.index), g.uuid, g.pci, "nvidia" + strconv.Itoa(g.index), g.node.fp.card.modelName}
		if mig {
			lv = append(lv, n.fp.pool.MIG, strconv.Itoa(g.migID))
		}
		lv = append(lv, n.name)
		if x.DriverVersionLabel {
			lv = append(lv, "580.105.08")
		}
		base := len(lv)
		if alloc {
			lv = append(lv, g.pod.container, g.pod.ns, g.pod.name, "")
		}
		a := g.act
		used := g.fbUsedMiB()
		reserved := math.Round(min(512, g.spec.memoryMiB*0.006))
		smClock := 345.0
		if a.busy > 0.01 {
			smClock = g.spec.smClockMHz
		}
		// Values in dcgmFields order.
		vals := [...]float64{
			smClock, g.spec.memClockMHz, math.Round(g.temp + 4), math.Round(g.temp), math.Round(g.power*1000) / 1000,
			math.Floor(g.energyMJ - g.counterBaseMJ), 0, math.Round(a.busy * 100), math.Round(a.dram * 100), 0, 0,
			float64(g.xid), math.Max(0, g.spec.memoryMiB-used-reserved), used, reserved,
			0, 0, g.health.uncorrRows, 0, float64(b2i(g.health.remapFailure)),
			round6(a.busy), round6(a.tensor), round6(a.dram), math.Round(2e6 + 4e8*a.busy), math.Round(3e6 + 6e8*a.busy),
		}
		for i, f := range c.rend.dcgmFields {
			if mig && f.notOnMIG {
				continue
			}
			d := c.rend.dcgmKeys[i][b2i(alloc)*2+b2i(mig)]
			switch {
			case f.name == "DCGM_FI_DEV_XID_ERRORS":
				em.b.gauge(d, vals[i], append(lv, strconv.Itoa(g.xid), xidMessage(g.xid)))
			case f.typ == counterT:
				em.b.counter(d, vals[i], lv)
			default:
				em.b.gauge(d, vals[i], lv)
			}
		}
		if x.HealthCollectors {
			c.collectDCGMHealth(em, g, alloc, mig, lv[:base], lv[base:])
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// gpuProductLabel is GPU feature discovery's nvidia.com/gpu.product value.
func gpuProductLabel(modelName string) string { return strings.ReplaceAll(modelName, " ", "-") }

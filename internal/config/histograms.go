package config

import (
	"strconv"

	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// convertKey is Prometheus's scrape option converting classic histograms
// to native histograms with custom buckets (NHCB) at scrape time.
const convertKey = "convert_classic_histograms_to_nhcb"

// ConvertsToNHCB says whether scrapes under this config store classic
// histograms as native histograms with custom buckets when the file says
// nothing (servescope's default, unless keep_classic_histograms).
func (e Extension) ConvertsToNHCB() bool { return !e.KeepClassicHistograms }

// applyNHCBDefault makes convert_classic_histograms_to_nhcb default to
// convert instead of Prometheus's false: in `global:` when the file does
// not set it there (so scrape_config_files inherit it), and in every job
// that does not set it itself. An explicit value, global or per job, is
// left as the user wrote it. With convert, every remote_write that sets
// neither send_native_histograms nor convert_nhcb_to_classic sends the
// stored NHCB as classic histograms (convert_nhcb_to_classic), so a
// receiver gets the series it got before.
func applyNHCBDefault(root *yaml.Node, pc *promconfig.Config, convert bool) {
	top := mapping(root)
	g := &pc.GlobalConfig
	if _, ok := setKeys(lookup(top, "global"))[convertKey]; !ok {
		g.ConvertClassicHistogramsToNHCB = convert
	}
	var jobs []*yaml.Node
	if n := lookup(top, "scrape_configs"); n != nil && n.Kind == yaml.SequenceNode {
		jobs = n.Content
	}
	// A receiver gets classic histograms as before, unless the file says
	// how to send histograms to it.
	var writes []*yaml.Node
	if n := lookup(top, "remote_write"); n != nil && n.Kind == yaml.SequenceNode {
		writes = n.Content
	}
	for i, rw := range pc.RemoteWriteConfigs {
		if i < len(writes) {
			own := setKeys(writes[i])
			if _, ok := own["send_native_histograms"]; ok {
				continue
			}
			if _, ok := own["convert_nhcb_to_classic"]; ok {
				continue
			}
		}
		rw.ConvertNHCBToClassic = convert
	}
	for i, sc := range pc.ScrapeConfigs {
		if i < len(jobs) {
			if v, ok := setKeys(jobs[i])[convertKey]; ok {
				if b, err := strconv.ParseBool(v); err == nil {
					sc.ConvertClassicHistogramsToNHCB = &b
				}
				continue
			}
		}
		v := g.ConvertClassicHistogramsToNHCB
		sc.ConvertClassicHistogramsToNHCB = &v
	}
}

package config

import (
	"testing"

	"github.com/alecthomas/units"
)

// TestDefaultScrapeLimits: a job that sets no limit gets servescope's
// defaults; a job's or the global section's explicit value wins, and an
// explicit 0 means unlimited.
func TestDefaultScrapeLimits(t *testing.T) {
	d := DefaultScrapeLimits()
	tests := []struct {
		name   string
		config string
		want   ScrapeLimits
	}{
		{
			name:   "none set",
			config: "scrape_configs:\n  - job_name: a\n",
			want:   d,
		},
		{
			name:   "job sets some",
			config: "scrape_configs:\n  - job_name: a\n    sample_limit: 10\n    body_size_limit: 1KB\n",
			want:   ScrapeLimits{SampleLimit: 10, BodySizeLimit: units.KiB, LabelLimit: d.LabelLimit, LabelNameLengthLimit: d.LabelNameLengthLimit, LabelValueLengthLimit: d.LabelValueLengthLimit},
		},
		{
			name:   "job sets 0: unlimited",
			config: "scrape_configs:\n  - job_name: a\n    sample_limit: 0\n    body_size_limit: 0\n    label_limit: 0\n    label_name_length_limit: 0\n    label_value_length_limit: 0\n",
			want:   ScrapeLimits{},
		},
		{
			name:   "global sets, job inherits",
			config: "global:\n  sample_limit: 7\n  label_limit: 0\nscrape_configs:\n  - job_name: a\n",
			want:   ScrapeLimits{SampleLimit: 7, BodySizeLimit: d.BodySizeLimit, LabelNameLengthLimit: d.LabelNameLengthLimit, LabelValueLengthLimit: d.LabelValueLengthLimit},
		},
		{
			name:   "job overrides global",
			config: "global:\n  sample_limit: 7\nscrape_configs:\n  - job_name: a\n    sample_limit: 0\n",
			want:   ScrapeLimits{BodySizeLimit: d.BodySizeLimit, LabelLimit: d.LabelLimit, LabelNameLengthLimit: d.LabelNameLengthLimit, LabelValueLengthLimit: d.LabelValueLengthLimit},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("test.yml", []byte(tc.config), nil)
			if err != nil {
				t.Fatal(err)
			}
			scs, err := cfg.Prometheus.GetScrapeConfigs()
			if err != nil {
				t.Fatal(err)
			}
			sc := scs[0]
			got := ScrapeLimits{SampleLimit: sc.SampleLimit, BodySizeLimit: sc.BodySizeLimit, LabelLimit: sc.LabelLimit,
				LabelNameLengthLimit: sc.LabelNameLengthLimit, LabelValueLengthLimit: sc.LabelValueLengthLimit}
			if got != tc.want {
				t.Errorf("limits %+v, want %+v", got, tc.want)
			}
		})
	}
}

package gen

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

// Plain Prometheus configuration, limited to the keys generated here (field
// order is the output order).
type (
	promConfig struct {
		Global        promGlobal     `yaml:"global"`
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	promGlobal struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	}
	scrapeConfig struct {
		JobName       string         `yaml:"job_name"`
		HonorLabels   bool           `yaml:"honor_labels"`
		Scheme        string         `yaml:"scheme,omitempty"`
		Authorization *authorization `yaml:"authorization,omitempty"`
		TLSConfig     *tlsConfig     `yaml:"tls_config,omitempty"`
		// servescope's default per-target limits, written out per job so
		// that Prometheus (2.x has no global limits) applies them too.
		SampleLimit           uint            `yaml:"sample_limit"`
		BodySizeLimit         string          `yaml:"body_size_limit"`
		LabelLimit            uint            `yaml:"label_limit"`
		LabelNameLengthLimit  uint            `yaml:"label_name_length_limit"`
		LabelValueLengthLimit uint            `yaml:"label_value_length_limit"`
		KubernetesSDConfigs   []kubernetesSD  `yaml:"kubernetes_sd_configs"`
		RelabelConfigs        []relabelConfig `yaml:"relabel_configs"`
	}
	authorization struct {
		CredentialsFile string `yaml:"credentials_file"`
	}
	tlsConfig struct {
		InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	}
	kubernetesSD struct {
		Role       string        `yaml:"role"`
		Namespaces *sdNamespaces `yaml:"namespaces,omitempty"`
	}
	sdNamespaces struct {
		Names []string `yaml:"names"`
	}
	relabelConfig struct {
		SourceLabels []string `yaml:"source_labels,omitempty,flow"`
		Separator    string   `yaml:"separator,omitempty"`
		Regex        string   `yaml:"regex,omitempty"`
		TargetLabel  string   `yaml:"target_label,omitempty"`
		Replacement  *string  `yaml:"replacement,omitempty"`
		Action       string   `yaml:"action,omitempty"`
	}
)

// podTargetLabels copies the pod's namespace, name and container into the
// target labels every job needs for the catalog's joins.
func podTargetLabels() []relabelConfig {
	return []relabelConfig{
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace", Action: "replace"},
		{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod", Action: "replace"},
		{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container", Action: "replace"},
	}
}

// keepPort keeps the one target of a pod's declared container port.
func keepPort(port int) relabelConfig {
	return relabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_container_port_number"}, Regex: strconv.Itoa(port), Action: "keep"}
}

func scrapeConfigs(o Options) []scrapeConfig {
	replace12 := "$1:$2"
	engines := scrapeConfig{
		JobName:             schema.JobEngines,
		HonorLabels:         false,
		KubernetesSDConfigs: []kubernetesSD{{Role: "pod"}},
		RelabelConfigs: append([]relabelConfig{
			{SourceLabels: []string{"__meta_kubernetes_pod_annotation_prometheus_io_scrape"}, Regex: "true", Action: "keep"},
			{SourceLabels: []string{"__meta_kubernetes_pod_annotation_prometheus_io_path"}, Regex: "(.+)", TargetLabel: "__metrics_path__", Action: "replace"},
			{SourceLabels: []string{"__meta_kubernetes_pod_annotation_prometheus_io_scheme"}, Regex: "(https?)", TargetLabel: "__scheme__", Action: "replace"},
			{
				SourceLabels: []string{"__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"},
				Regex:        `([^:]+)(?::\d+)?;(\d+)`, Replacement: &replace12, TargetLabel: "__address__", Action: "replace",
			},
		}, podTargetLabels()...),
	}
	dcgm := scrapeConfig{
		JobName:             schema.JobDCGM,
		HonorLabels:         true,
		KubernetesSDConfigs: []kubernetesSD{{Role: "pod", Namespaces: &sdNamespaces{Names: []string{o.DCGMNamespace}}}},
		RelabelConfigs: append([]relabelConfig{
			{
				SourceLabels: []string{"__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app"},
				Separator:    ";", Regex: ".*dcgm-exporter.*", Action: "keep",
			},
			keepPort(dcgmPort),
		}, podTargetLabels()...),
	}
	kueue := scrapeConfig{
		JobName:             schema.JobKueue,
		HonorLabels:         true,
		Scheme:              "https",
		Authorization:       &authorization{CredentialsFile: saTokenFile},
		TLSConfig:           &tlsConfig{InsecureSkipVerify: true},
		KubernetesSDConfigs: []kubernetesSD{{Role: "pod", Namespaces: &sdNamespaces{Names: []string{o.KueueNamespace}}}},
		RelabelConfigs: append([]relabelConfig{
			{SourceLabels: []string{"__meta_kubernetes_pod_label_control_plane"}, Regex: "controller-manager", Action: "keep"},
			keepPort(kueueMetrics),
		}, podTargetLabels()...),
	}
	ksm := scrapeConfig{
		JobName:             schema.JobKubeStateMetrics,
		HonorLabels:         true,
		KubernetesSDConfigs: []kubernetesSD{{Role: "pod"}},
		RelabelConfigs: append([]relabelConfig{
			{SourceLabels: []string{"__meta_kubernetes_pod_label_app_kubernetes_io_name"}, Regex: "kube-state-metrics", Action: "keep"},
			keepPort(ksmPort),
		}, podTargetLabels()...),
	}
	jobs := append([]scrapeConfig{engines, dcgm, kueue, ksm}, gatewayScrapeConfigs()...)
	lim := config.DefaultScrapeLimits()
	for i := range jobs {
		j := &jobs[i]
		j.SampleLimit, j.BodySizeLimit, j.LabelLimit = lim.SampleLimit, lim.BodySizeLimit.String(), lim.LabelLimit
		j.LabelNameLengthLimit, j.LabelValueLengthLimit = lim.LabelNameLengthLimit, lim.LabelValueLengthLimit
	}
	return jobs
}

// ksmPort is kube-state-metrics' metrics port (the chart's "http" port).
const ksmPort = 8080

// writeScrapeConfig writes a plain prometheus.yml: the rules file and one scrape
// job per exporter, with the same honor_labels choices as the monitors.
func writeScrapeConfig(files Files, o Options) error {
	cfg := promConfig{
		Global:        promGlobal{ScrapeInterval: "15s", EvaluationInterval: model.Duration(o.RuleInterval).String()},
		RuleFiles:     []string{rulesFileBase},
		ScrapeConfigs: scrapeConfigs(o),
	}
	var b bytes.Buffer
	b.WriteString("# Generated by servescope; do not edit. Works with Prometheus and with `servescope serve --config`.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("encode %s: %w", PrometheusConfig, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode %s: %w", PrometheusConfig, err)
	}
	return files.add(PrometheusConfig, b.Bytes())
}

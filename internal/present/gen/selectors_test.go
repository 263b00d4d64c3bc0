package gen

import (
	"maps"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	kueueconfig "sigs.k8s.io/kueue/apis/config/v1beta2"

	"github.com/servescope/servescope/internal/schema"
)

// operatorObjects decodes every generated monitor and the PrometheusRule.
func operatorObjects(t *testing.T, files Files) map[string]metav1.Object {
	t.Helper()
	out := map[string]metav1.Object{}
	for _, p := range files.Paths() {
		if !strings.HasPrefix(p, "kubernetes/monitors/") && p != "kubernetes/prometheusrule.yaml" {
			continue
		}
		obj, _, err := decodeStrict(splitDocs(files[p])[0])
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = obj.(metav1.Object)
	}
	if len(out) != 9 {
		t.Fatalf("%d monitors and rules, want 9", len(out))
	}
	return out
}

// TestMonitorLabels checks the option for the Prometheus operator's
// selectors reaches every monitor and the PrometheusRule, that the
// kube-prometheus-stack default applies without it, and that bad labels
// are refused.
func TestMonitorLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   map[string]string
	}{
		{name: "default", want: map[string]string{"release": "kube-prometheus-stack"}},
		{name: "release prometheus", labels: map[string]string{"release": "prometheus"}, want: map[string]string{"release": "prometheus"}},
		{name: "two labels", labels: map[string]string{"prometheus": "platform", "example.com/scrape": "yes"}, want: map[string]string{"prometheus": "platform", "example.com/scrape": "yes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := testInput(t, false)
			in.Options.MonitorLabels = tc.labels
			files, err := Generate(in)
			if err != nil {
				t.Fatal(err)
			}
			for p, obj := range operatorObjects(t, files) {
				got := obj.GetLabels()
				for k, v := range tc.want {
					if got[k] != v {
						t.Errorf("%s: label %s=%q, want %q", p, k, got[k], v)
					}
				}
				if tc.labels != nil && got["release"] == "kube-prometheus-stack" {
					t.Errorf("%s: still labelled release=kube-prometheus-stack", p)
				}
				if got[partOfLabel] != partOfValue {
					t.Errorf("%s: lost %s", p, partOfLabel)
				}
			}
		})
	}
	for _, bad := range []map[string]string{{"release": "has space"}, {"-bad-key": "x"}} {
		in := testInput(t, false)
		in.Options.MonitorLabels = bad
		if _, err := Generate(in); err == nil || !strings.Contains(err.Error(), "monitor labels") {
			t.Errorf("labels %v: got %v, want a monitor labels error", bad, err)
		}
	}
}

// TestKueueMonitorSelectsMetricsServiceOnly matches the Kueue
// ServiceMonitor's selector against the labels of the Services of Kueue's
// chart (0.15 to 0.17, release "kueue"): only the metrics Service, not the
// visibility or webhook Service, which share its selector labels and (the
// visibility one) its port name.
func TestKueueMonitorSelectsMetricsServiceOnly(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	obj, _, err := decodeStrict(splitDocs(files["kubernetes/monitors/servicemonitor-kueue.yaml"])[0])
	if err != nil {
		t.Fatal(err)
	}
	sm := obj.(*monitoringv1.ServiceMonitor)
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	common := map[string]string{
		"helm.sh/chart": "kueue-0.17.0", "app.kubernetes.io/name": "kueue", "app.kubernetes.io/instance": "kueue",
		"control-plane": "controller-manager", "app.kubernetes.io/version": "v0.17.0", "app.kubernetes.io/managed-by": "Helm",
	}
	with := func(component string) k8slabels.Set {
		s := maps.Clone(common)
		s["app.kubernetes.io/component"] = component
		return s
	}
	for component, want := range map[string]bool{"metrics-service": true, "visibility-service": false, "webhook-service": false} {
		if got := sel.Matches(with(component)); got != want {
			t.Errorf("selector %s matches the %s Service: %v, want %v", sel, component, got, want)
		}
	}
}

// TestMonitorsSetJobLabel: under the operator every generated monitor
// names its job as the plain scrape config does, so the ExporterDown alert
// (scoped to schema.ScrapeJobs) covers them and nothing else.
func TestMonitorsSetJobLabel(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	jobs := map[string]string{}
	for p, obj := range operatorObjects(t, files) {
		var rc []monitoringv1.RelabelConfig
		switch m := obj.(type) {
		case *monitoringv1.PodMonitor:
			rc = m.Spec.PodMetricsEndpoints[0].RelabelConfigs
		case *monitoringv1.ServiceMonitor:
			rc = m.Spec.Endpoints[0].RelabelConfigs
		default:
			continue
		}
		if len(rc) != 1 || rc[0].TargetLabel != "job" || rc[0].Replacement == nil {
			t.Errorf("%s: relabelings %+v do not set the job", p, rc)
			continue
		}
		jobs[p] = *rc[0].Replacement
	}
	for p, j := range jobs {
		if !slices.Contains(schema.ScrapeJobs(), j) {
			t.Errorf("%s: job %q is not one of servescope's scrape jobs %v", p, j, schema.ScrapeJobs())
		}
	}
	if jobs["kubernetes/monitors/servicemonitor-kueue.yaml"] != schema.JobKueue || jobs["kubernetes/monitors/podmonitor-vllm.yaml"] != schema.JobEngines {
		t.Errorf("jobs %v", jobs)
	}
}

// TestKueueConfigKeepsChartDefaults decodes the generated Kueue manager
// configuration (the values file and the plain file) and checks it keeps
// every integration and controller setting of Kueue's chart defaults, with
// servescope's metrics settings added.
func TestKueueConfigKeepsChartDefaults(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	var kv struct {
		ManagerConfig struct {
			ControllerManagerConfigYaml string `yaml:"controllerManagerConfigYaml"`
		} `yaml:"managerConfig"`
	}
	strictYAML(t, files["helm-values/kueue.yaml"], &kv)
	for name, doc := range map[string][]byte{
		"helm-values/kueue.yaml":               []byte(kv.ManagerConfig.ControllerManagerConfigYaml),
		"kueue/controller-manager-config.yaml": splitDocs(files["kueue/controller-manager-config.yaml"])[0],
	} {
		obj, _, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg := obj.(*kueueconfig.Configuration)
		// Kueue's chart (charts/kueue/values.yaml at v0.17.0) enables these.
		want := []string{
			"batch/job", "deployment", "statefulset", "pod",
			"jobset.x-k8s.io/jobset", "leaderworkerset.x-k8s.io/leaderworkerset",
			"kubeflow.org/mpijob", "kubeflow.org/pytorchjob", "kubeflow.org/tfjob", "kubeflow.org/xgboostjob",
			"kubeflow.org/paddlejob", "kubeflow.org/jaxjob",
			"ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice",
			"trainer.kubeflow.org/trainjob", "workload.codeflare.dev/appwrapper",
		}
		if cfg.Integrations == nil {
			t.Fatalf("%s: no integrations", name)
		}
		got := cfg.Integrations.Frameworks
		for _, f := range want {
			if !slices.Contains(got, f) {
				t.Errorf("%s: integration %s dropped (have %v)", name, f, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d integrations, want Kueue's %d", name, len(got), len(want))
		}
		if c := cfg.ClientConnection; c == nil || c.QPS == nil || *c.QPS != 50 || c.Burst == nil || *c.Burst != 100 {
			t.Errorf("%s: clientConnection %+v, want Kueue's qps 50, burst 100", name, c)
		}
		if cfg.Controller == nil || cfg.Controller.GroupKindConcurrency["Workload.kueue.x-k8s.io"] != 5 || cfg.Controller.GroupKindConcurrency["Job.batch"] != 5 || len(cfg.Controller.GroupKindConcurrency) != 6 {
			t.Errorf("%s: controller concurrency %+v, want Kueue's", name, cfg.Controller)
		}
		if cfg.LeaderElection == nil || cfg.LeaderElection.LeaderElect == nil || !*cfg.LeaderElection.LeaderElect || cfg.LeaderElection.ResourceName != "c1f6bfd2.kueue.x-k8s.io" {
			t.Errorf("%s: leader election %+v, want Kueue's", name, cfg.LeaderElection)
		}
		if cfg.Webhook.Port == nil || *cfg.Webhook.Port != 9443 || cfg.Health.HealthProbeBindAddress != ":8081" || cfg.Metrics.BindAddress != ":8443" {
			t.Errorf("%s: ports webhook %v health %q metrics %q, want Kueue's", name, cfg.Webhook.Port, cfg.Health.HealthProbeBindAddress, cfg.Metrics.BindAddress)
		}
		if !cfg.Metrics.EnableClusterQueueResources || cfg.Metrics.LocalQueueMetrics == nil || !cfg.Metrics.LocalQueueMetrics.Enable {
			t.Errorf("%s: servescope's metrics settings missing: %+v", name, cfg.Metrics)
		}
		if cfg.ManageJobsWithoutQueueName {
			t.Errorf("%s: manageJobsWithoutQueueName turned on", name)
		}
	}
}

package gen

import (
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	helmengine "helm.sh/helm/v4/pkg/engine"

	sconfig "github.com/servescope/servescope/internal/config"
)

const chartDir = "../../../deploy/helm/servescope"

// renderChart renders the servescope chart with the Helm SDK and decodes
// every manifest strictly, returning the objects by kind.
func renderChart(t *testing.T, overrides map[string]any) map[string][]any {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(ch, overrides, common.ReleaseOptions{Name: "servescope", Namespace: "monitoring", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := helmengine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]any{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	}) {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range splitDocs([]byte(out[name])) {
			obj, kind, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, doc)
				continue
			}
			objs[kind] = append(objs[kind], obj)
		}
	}
	return objs
}

// TestChartRenders renders the chart in embedded and external-Prometheus
// mode and checks the objects: strict decoding, read-only RBAC, the PVC
// only when samples are stored, the ServiceMonitor, and a servescope.yml
// that servescope's config loader accepts.
func TestChartRenders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		overrides map[string]any
		pvc       bool
		jobs      int
	}{
		{name: "embedded", pvc: true, jobs: 4},
		{name: "external", overrides: map[string]any{"externalPrometheus": map[string]any{"enabled": true, "url": "http://prometheus-operated.monitoring:9090"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := renderChart(t, tc.overrides)
			for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "ServiceMonitor"} {
				if len(objs[k]) != 1 {
					t.Errorf("%d %s objects, want 1", len(objs[k]), k)
				}
			}
			if got := len(objs["PersistentVolumeClaim"]) == 1; got != tc.pvc {
				t.Errorf("PVC rendered: %v, want %v", got, tc.pvc)
			}
			if len(objs["ClusterRole"]) == 1 {
				checkReadOnly(t, objs["ClusterRole"][0].(*rbacv1.ClusterRole))
			}
			if len(objs["ServiceMonitor"]) == 1 && objs["ServiceMonitor"][0].(*monitoringv1.ServiceMonitor).Spec.Endpoints[0].Port != "http" {
				t.Error("ServiceMonitor does not scrape the http port")
			}
			if len(objs["Deployment"]) == 1 {
				d := objs["Deployment"][0].(*appsv1.Deployment)
				if v := d.Spec.Template.Spec.Volumes[1]; (v.PersistentVolumeClaim != nil) != tc.pvc {
					t.Errorf("data volume %+v, want PVC %v", v, tc.pvc)
				}
			}
			if len(objs["ConfigMap"]) == 1 {
				content := objs["ConfigMap"][0].(*corev1.ConfigMap).Data["servescope.yml"]
				cfg, err := sconfig.Parse("servescope.yml", []byte(content), slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatalf("servescope.yml: %v\n%s", err, content)
				}
				if len(cfg.Prometheus.ScrapeConfigs) != tc.jobs {
					t.Errorf("%d scrape jobs, want %d", len(cfg.Prometheus.ScrapeConfigs), tc.jobs)
				}
			}
		})
	}
}

// checkReadOnly requires every rule to allow get, list and watch only, on
// pods, namespaces, nodes and Kueue objects (and get on /metrics).
func checkReadOnly(t *testing.T, cr *rbacv1.ClusterRole) {
	t.Helper()
	resources := map[string]bool{}
	for _, r := range cr.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("ClusterRole allows %q", v)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				resources[g+"/"+res] = true
			}
		}
	}
	for _, want := range []string{"/pods", "/namespaces", "/nodes", "kueue.x-k8s.io/clusterqueues", "kueue.x-k8s.io/localqueues", "kueue.x-k8s.io/workloads", "kueue.x-k8s.io/resourceflavors"} {
		if !resources[want] {
			t.Errorf("ClusterRole cannot read %s", want)
		}
	}
}

// TestChartScrapeConfigMatchesGenerated keeps the chart's default
// scrape_configs identical to the generated prometheus.yml's.
func TestChartScrapeConfigMatchesGenerated(t *testing.T) {
	t.Parallel()
	content, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Config struct {
			ScrapeConfigs []any `yaml:"scrape_configs"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(content, &values); err != nil {
		t.Fatal(err)
	}
	var generated struct {
		ScrapeConfigs []any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(generateT(t, false)[PrometheusConfig], &generated); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values.Config.ScrapeConfigs, generated.ScrapeConfigs) {
		t.Error("deploy/helm/servescope/values.yaml config.scrape_configs differ from the generated prometheus.yml; copy them over")
	}
}

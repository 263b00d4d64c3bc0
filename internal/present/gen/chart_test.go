package gen

import (
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	helmengine "helm.sh/helm/v4/pkg/engine"

	sconfig "github.com/servescope/servescope/internal/config"
	"github.com/servescope/servescope/internal/schema"
)

const chartDir = "../../../deploy/helm/servescope"

// operatorAPI is what a cluster with prometheus-operator's CRDs serves.
const operatorAPI = "monitoring.coreos.com/v1"

// renderChart renders the servescope chart with the Helm SDK on a cluster
// serving apis (beyond Kubernetes' own), decodes every manifest strictly
// and validates it, returning the objects by kind.
func renderChart(t *testing.T, overrides map[string]any, apis ...string) map[string][]any {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.APIVersions = append(slices.Clone(caps.APIVersions), apis...)
	vals, err := chartutil.ToRenderValues(ch, overrides, common.ReleaseOptions{Name: "servescope", Namespace: "monitoring", IsInstall: true}, caps)
	if err != nil {
		t.Fatal(err)
	}
	out, err := helmengine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]any{}
	for _, name := range slices.Sorted(maps.Keys(out)) {
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
	checkReferences(t, objs)
	return objs
}

// checkReferences checks what ties the rendered objects together: the
// Deployment's selector matches its pods, the Service selects them and
// targets a declared port, the volumes name the rendered ConfigMap and
// claim, the pod runs as the rendered ServiceAccount.
func checkReferences(t *testing.T, objs map[string][]any) {
	t.Helper()
	if len(objs["Deployment"]) != 1 {
		t.Fatalf("%d Deployments, want 1", len(objs["Deployment"]))
	}
	d := objs["Deployment"][0].(*appsv1.Deployment)
	pod := d.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(k8slabels.Set(pod.Labels)) {
		t.Errorf("Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, pod.Labels, err)
	}
	ports := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
	}
	for _, o := range objs["Service"] {
		svc := o.(*corev1.Service)
		if len(svc.Spec.Selector) == 0 || !k8slabels.SelectorFromSet(svc.Spec.Selector).Matches(k8slabels.Set(pod.Labels)) {
			t.Errorf("Service %s selects %v, not the pods %v", svc.Name, svc.Spec.Selector, pod.Labels)
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.StrVal != "" && !ports[p.TargetPort.StrVal] {
				t.Errorf("Service %s targets undeclared port %q", svc.Name, p.TargetPort.StrVal)
			}
		}
	}
	names := func(kind string) map[string]bool {
		m := map[string]bool{}
		for _, o := range objs[kind] {
			m[o.(metav1.Object).GetName()] = true
		}
		return m
	}
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil && !names("ConfigMap")[v.ConfigMap.Name] {
			t.Errorf("volume %s names ConfigMap %q, not rendered", v.Name, v.ConfigMap.Name)
		}
	}
	if sa := pod.Spec.ServiceAccountName; len(objs["ServiceAccount"]) > 0 && !names("ServiceAccount")[sa] {
		t.Errorf("pod runs as ServiceAccount %q, not rendered", sa)
	}
}

// deploymentArgs returns the servescope container's arguments.
func deploymentArgs(t *testing.T, objs map[string][]any) []string {
	t.Helper()
	return objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args
}

// TestChartRenders renders the chart in embedded and external-Prometheus
// mode and checks the objects: strict decoding, read-only RBAC, the PVC
// only when samples are stored, the ServiceMonitor, and a servescope.yml
// that servescope's config loader accepts.
func TestChartRenders(t *testing.T) {
	t.Parallel()
	external := map[string]any{"enabled": true, "url": "http://prometheus-operated.monitoring:9090"}
	for _, tc := range []struct {
		name      string
		overrides map[string]any
		apis      []string
		pvc       bool
		monitor   bool
		recorded  bool
		jobs      int
	}{
		{name: "embedded", apis: []string{operatorAPI}, pvc: true, monitor: true, jobs: 6},
		{name: "external", overrides: map[string]any{"externalPrometheus": external}, apis: []string{operatorAPI}, monitor: true, recorded: true},
		{name: "external without rules", overrides: map[string]any{"externalPrometheus": map[string]any{"enabled": true, "url": "http://p:9090", "recordingRules": false}}, apis: []string{operatorAPI}, monitor: true},
		{name: "stock cluster without the operator's CRDs", pvc: true, jobs: 6},
		{name: "monitor disabled", overrides: map[string]any{"serviceMonitor": map[string]any{"enabled": false}}, apis: []string{operatorAPI}, pvc: true, jobs: 6},
		{name: "no persistence", overrides: map[string]any{"persistence": map[string]any{"enabled": false}, "nodeSelector": map[string]any{"nvidia.com/gpu.present": "false"}, "tolerations": []any{map[string]any{"key": "dedicated", "operator": "Exists"}}}, apis: []string{operatorAPI}, monitor: true, jobs: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := renderChart(t, tc.overrides, tc.apis...)
			for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap"} {
				if len(objs[k]) != 1 {
					t.Errorf("%d %s objects, want 1", len(objs[k]), k)
				}
			}
			if got := len(objs["ServiceMonitor"]) == 1; got != tc.monitor {
				t.Errorf("ServiceMonitor rendered: %v, want %v", got, tc.monitor)
			}
			if got := len(objs["PersistentVolumeClaim"]) == 1; got != tc.pvc {
				t.Errorf("PVC rendered: %v, want %v", got, tc.pvc)
			}
			if len(objs["ClusterRole"]) == 1 {
				checkReadOnly(t, objs["ClusterRole"][0].(*rbacv1.ClusterRole))
			}
			if len(objs["ServiceMonitor"]) == 1 {
				sm := objs["ServiceMonitor"][0].(*monitoringv1.ServiceMonitor)
				if sm.Spec.Endpoints[0].Port != "http" {
					t.Error("ServiceMonitor does not scrape the http port")
				}
				if sm.Labels["release"] != "kube-prometheus-stack" {
					t.Errorf("ServiceMonitor labels %v lack the default release selector label", sm.Labels)
				}
			}
			d := objs["Deployment"][0].(*appsv1.Deployment)
			if v := d.Spec.Template.Spec.Volumes[1]; (v.PersistentVolumeClaim != nil) != tc.pvc {
				t.Errorf("data volume %+v, want PVC %v", v, tc.pvc)
			}
			if got := slices.Contains(deploymentArgs(t, objs), "--query.remote-recorded"); got != tc.recorded {
				t.Errorf("--query.remote-recorded in %v: %v, want %v", deploymentArgs(t, objs), got, tc.recorded)
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

// TestChartMonitorLabels: the ServiceMonitor follows the selector labels
// set in the values, like `generate --monitor-label`.
func TestChartMonitorLabels(t *testing.T) {
	t.Parallel()
	objs := renderChart(t, map[string]any{"serviceMonitor": map[string]any{"labels": map[string]any{"release": "prometheus"}}}, operatorAPI)
	sm := objs["ServiceMonitor"][0].(*monitoringv1.ServiceMonitor)
	if sm.Labels["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v, want release=prometheus", sm.Labels)
	}
}

// TestChartImageIsMakeImage: the chart's default image is the reference
// `make image` records (the repository and the chart's appVersion).
func TestChartImageIsMakeImage(t *testing.T) {
	t.Parallel()
	objs := renderChart(t, nil)
	mk, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	var repo string
	for _, l := range strings.Split(string(mk), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "IMAGE_REPO" && f[1] == "?=" {
			repo = f[2]
		}
	}
	want := repo + ":" + ch.Metadata.AppVersion
	if got := objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image; repo == "" || got != want {
		t.Errorf("chart image %q, want what make image builds: %q", got, want)
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

// TestChartHardening: the startup probe waits for /-/ready (the WAL
// replay) before liveness applies, and the optional NetworkPolicy admits
// the HTTP port from the release's namespace or the listed peers.
func TestChartHardening(t *testing.T) {
	t.Parallel()
	objs := renderChart(t, nil)
	if n := len(objs["NetworkPolicy"]); n != 0 {
		t.Errorf("%d NetworkPolicies by default, want 0", n)
	}
	c := objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/-/ready" ||
		c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold < 600 {
		t.Errorf("startup probe %+v, want /-/ready with at least 10 minutes", c.StartupProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
		t.Errorf("liveness probe %+v, want /-/healthy", c.LivenessProbe)
	}
	if len(c.Env) == 0 || c.Env[0].Name != "GOMEMLIMIT" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("env %+v, want GOMEMLIMIT from the memory limit (the query memory budget derives from it)", c.Env)
	}
	for _, tc := range []struct {
		name string
		from []any
		want string
	}{
		{"namespace", nil, `[{"podSelector":{}}]`},
		{"peers", []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"name": "monitoring"}}}}, `[{"namespaceSelector":{"matchLabels":{"name":"monitoring"}}}]`},
	} {
		objs := renderChart(t, map[string]any{"networkPolicy": map[string]any{"enabled": true, "from": tc.from}})
		if len(objs["NetworkPolicy"]) != 1 {
			t.Fatalf("%s: %d NetworkPolicies, want 1", tc.name, len(objs["NetworkPolicy"]))
		}
		np := objs["NetworkPolicy"][0].(*networkingv1.NetworkPolicy)
		from, err := json.Marshal(np.Spec.Ingress[0].From)
		if err != nil {
			t.Fatal(err)
		}
		if string(from) != tc.want || np.Spec.Ingress[0].Ports[0].Port.String() != "http" {
			t.Errorf("%s: ingress %s on %v, want %s on http", tc.name, from, np.Spec.Ingress[0].Ports, tc.want)
		}
	}
}

// TestChartAgentMode renders mode agent (one per cluster): `serve --agent`,
// the scrape jobs with remote_write to the receiver and the cluster's
// external label, credentials read from the mounted Secret, a PVC for the
// WAL, smaller resources, no Service (a PodMonitor for its /metrics) and no
// query flags; missing url or cluster, or two kinds of credentials, fail
// the render with a message naming the value.
func TestChartAgentMode(t *testing.T) {
	t.Parallel()
	agent := func(rw map[string]any) map[string]any {
		return map[string]any{"mode": "agent", "externalLabels": map[string]any{"cluster": "eu-1"}, "agent": map[string]any{"remoteWrite": rw}}
	}
	const url = "http://thanos-receive.monitoring:19291/api/v1/receive"
	for _, tc := range []struct {
		name     string
		rw       map[string]any
		auth     string // basic, bearer or ""
		keyPaths map[string]string
	}{
		{name: "no credentials", rw: map[string]any{"url": url}},
		{name: "basic auth", rw: map[string]any{"url": url, "basicAuth": map[string]any{"secretName": "rw-creds", "passwordKey": "pw"}}, auth: "basic",
			keyPaths: map[string]string{"username": "username", "pw": "password"}},
		{name: "bearer token", rw: map[string]any{"url": url, "bearerToken": map[string]any{"secretName": "rw-token"}, "extra": map[string]any{"queue_config": map[string]any{"max_samples_per_send": 2000}}}, auth: "bearer",
			keyPaths: map[string]string{"token": "token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := renderChart(t, agent(tc.rw), operatorAPI)
			if n := len(objs["Service"]); n != 0 {
				t.Errorf("%d Services in agent mode, want none", n)
			}
			if len(objs["ServiceMonitor"]) != 0 || len(objs["PodMonitor"]) != 1 {
				t.Errorf("%d ServiceMonitors and %d PodMonitors, want a PodMonitor only", len(objs["ServiceMonitor"]), len(objs["PodMonitor"]))
			} else if pm := objs["PodMonitor"][0].(*monitoringv1.PodMonitor); pm.Spec.PodMetricsEndpoints[0].Port == nil || *pm.Spec.PodMetricsEndpoints[0].Port != "http" {
				t.Errorf("PodMonitor endpoints %+v, want the http port", pm.Spec.PodMetricsEndpoints)
			}
			if len(objs["PersistentVolumeClaim"]) != 1 {
				t.Fatalf("%d PVCs, want one for the WAL", len(objs["PersistentVolumeClaim"]))
			}
			if got := objs["PersistentVolumeClaim"][0].(*corev1.PersistentVolumeClaim).Spec.Resources.Requests.Storage().String(); got != "10Gi" {
				t.Errorf("WAL claim %s, want agent.walSize 10Gi", got)
			}
			args := deploymentArgs(t, objs)
			if args[0] != "serve" || args[1] != "--agent" {
				t.Errorf("args %v, want serve --agent", args)
			}
			for _, a := range args {
				if strings.HasPrefix(a, "--query.") || strings.HasPrefix(a, "--storage.retention") {
					t.Errorf("agent given %s", a)
				}
			}
			pod := objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec
			if lim := pod.Containers[0].Resources.Limits.Memory().String(); lim != "1Gi" {
				t.Errorf("agent memory limit %s, want agent.resources' 1Gi", lim)
			}
			cfg, err := sconfig.Parse("servescope.yml", []byte(objs["ConfigMap"][0].(*corev1.ConfigMap).Data["servescope.yml"]), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(schema.ScrapeJobs()); len(cfg.Prometheus.ScrapeConfigs) != n || len(cfg.Prometheus.RuleFiles) != 0 {
				t.Errorf("%d scrape jobs and rule files %v, want the %d jobs and no rules", len(cfg.Prometheus.ScrapeConfigs), cfg.Prometheus.RuleFiles, n)
			}
			if got := cfg.Prometheus.GlobalConfig.ExternalLabels.Get("cluster"); got != "eu-1" {
				t.Errorf("external label cluster %q, want eu-1", got)
			}
			if len(cfg.Prometheus.RemoteWriteConfigs) != 1 || cfg.Prometheus.RemoteWriteConfigs[0].URL.String() != url {
				t.Fatalf("remote_write %+v, want one to %s", cfg.Prometheus.RemoteWriteConfigs, url)
			}
			rw := cfg.Prometheus.RemoteWriteConfigs[0]
			var mounted *corev1.Volume
			for i, v := range pod.Volumes {
				if v.Secret != nil {
					mounted = &pod.Volumes[i]
				}
			}
			switch tc.auth {
			case "basic":
				if ba := rw.HTTPClientConfig.BasicAuth; ba == nil || !strings.HasSuffix(ba.PasswordFile, "/password") || !strings.HasSuffix(ba.UsernameFile, "/username") {
					t.Errorf("basic_auth %+v, want username and password files", ba)
				}
			case "bearer":
				if a := rw.HTTPClientConfig.Authorization; a == nil || !strings.HasSuffix(a.CredentialsFile, "/token") {
					t.Errorf("authorization %+v, want a credentials file", a)
				}
				if rw.QueueConfig.MaxSamplesPerSend != 2000 {
					t.Errorf("queue_config from extra not merged: %+v", rw.QueueConfig)
				}
			default:
				if mounted != nil || rw.HTTPClientConfig.BasicAuth != nil || rw.HTTPClientConfig.Authorization != nil {
					t.Errorf("credentials without a Secret: %+v, %+v", mounted, rw.HTTPClientConfig)
				}
				return
			}
			if mounted == nil {
				t.Fatal("no Secret volume for the credentials")
			}
			got := map[string]string{}
			for _, it := range mounted.Secret.Items {
				got[it.Key] = it.Path
			}
			if !reflect.DeepEqual(got, tc.keyPaths) {
				t.Errorf("Secret items %v, want %v", got, tc.keyPaths)
			}
			if m := pod.Containers[0].VolumeMounts[len(pod.Containers[0].VolumeMounts)-1]; m.Name != mounted.Name || !m.ReadOnly {
				t.Errorf("credentials mount %+v", m)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"no url", agent(map[string]any{}), "agent.remoteWrite.url is required"},
		{"no cluster", map[string]any{"mode": "agent", "agent": map[string]any{"remoteWrite": map[string]any{"url": url}}}, "externalLabels.cluster is required"},
		{"two credentials", agent(map[string]any{"url": url, "basicAuth": map[string]any{"secretName": "a"}, "bearerToken": map[string]any{"secretName": "b"}}), "not both"},
		{"unknown mode", map[string]any{"mode": "central"}, `mode "central"`},
		{"agent and external", map[string]any{"mode": "agent", "externalPrometheus": map[string]any{"enabled": true, "url": url}}, "contradict"},
	} {
		if err := renderError(t, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: render error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestChartExternalMode: mode external is externalPrometheus.enabled —
// the central servescope over the store the agents write to.
func TestChartExternalMode(t *testing.T) {
	t.Parallel()
	objs := renderChart(t, map[string]any{"mode": "external", "externalPrometheus": map[string]any{"url": "http://thanos-query.monitoring:9090"}}, operatorAPI)
	if len(objs["PersistentVolumeClaim"]) != 0 || len(objs["Service"]) != 1 || len(objs["ServiceMonitor"]) != 1 {
		t.Errorf("external mode: %d PVCs, %d Services, %d ServiceMonitors, want 0, 1, 1", len(objs["PersistentVolumeClaim"]), len(objs["Service"]), len(objs["ServiceMonitor"]))
	}
	if args := deploymentArgs(t, objs); !slices.Contains(args, "--query.remote-recorded") || slices.Contains(args, "--agent") {
		t.Errorf("external mode args %v", args)
	}
	env := objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env
	if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
		return e.Name == "SERVESCOPE_EXTERNAL_PROMETHEUS_URL" && e.Value == "http://thanos-query.monitoring:9090"
	}) {
		t.Errorf("env %+v lacks the store's URL", env)
	}
	if err := renderError(t, map[string]any{"mode": "external"}); err == nil || !strings.Contains(err.Error(), "externalPrometheus.url is required") {
		t.Errorf("external mode without url: %v", err)
	}
}

// renderError renders the chart with values and returns the engine's error.
func renderError(t *testing.T, values map[string]any) error {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(ch, values, common.ReleaseOptions{Name: "servescope", Namespace: "monitoring", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return err
	}
	_, err = helmengine.Render(ch, vals)
	return err
}

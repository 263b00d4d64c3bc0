package gen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	kueueconfig "sigs.k8s.io/kueue/apis/config/v1beta2"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
	sigsyaml "sigs.k8s.io/yaml"
)

// typedObject returns an empty API object for a document's apiVersion and
// kind, or an error for a kind the test does not know.
func typedObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, nil
	case "monitoring.coreos.com/v1/PodMonitor":
		return &monitoringv1.PodMonitor{}, nil
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}, nil
	case "kueue.x-k8s.io/v1beta2/ClusterQueue":
		return &kueue.ClusterQueue{}, nil
	case "kueue.x-k8s.io/v1beta2/LocalQueue":
		return &kueue.LocalQueue{}, nil
	case "kueue.x-k8s.io/v1beta2/ResourceFlavor":
		return &kueue.ResourceFlavor{}, nil
	case "config.kueue.x-k8s.io/v1beta2/Configuration":
		return &kueueconfig.Configuration{}, nil
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return rbacObject(apiVersion, kind)
}

// splitDocs splits a multi-document YAML file, dropping empty documents.
func splitDocs(content []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(content, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// decodeStrict decodes one manifest into its API type as an API server
// with fieldValidation=Strict does (and kubeconform -strict): duplicate
// keys, unknown fields and fields in the wrong case are refused, values
// must have the field's type. The object's metadata is then validated
// (names, namespace, labels, annotations). It returns the object and its
// kind.
func decodeStrict(doc []byte) (any, string, error) {
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, "", fmt.Errorf("yaml: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, "", fmt.Errorf("type meta: %w", err)
	}
	obj, err := typedObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, tm.Kind, err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowUnknownFields)
	if err = errors.Join(append([]error{err}, strictErrs...)...); err != nil {
		return nil, tm.Kind, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	if m, ok := obj.(metav1.Object); ok {
		if err := validateMeta(tm.Kind, m); err != nil {
			return nil, tm.Kind, fmt.Errorf("%s %s %q: %w", tm.APIVersion, tm.Kind, m.GetName(), err)
		}
	}
	return obj, tm.Kind, nil
}

// clusterScoped kinds have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"ClusterQueue": true, "ResourceFlavor": true, "Configuration": true,
}

// validateMeta applies the API server's metadata rules: a name (a DNS
// label for Services and Namespaces, a subdomain otherwise), a valid
// namespace on namespaced kinds, valid label keys and values and
// annotation keys.
func validateMeta(kind string, m metav1.Object) error {
	var errs []error
	nameCheck := validation.IsDNS1123Subdomain
	switch kind {
	case "Service":
		nameCheck = validation.IsDNS1035Label
	case "Namespace":
		nameCheck = validation.IsDNS1123Label
	case "Configuration":
		nameCheck = nil // a component configuration, not an API object
	}
	if nameCheck != nil {
		for _, e := range nameCheck(m.GetName()) {
			errs = append(errs, fmt.Errorf("metadata.name: %s", e))
		}
	}
	if ns := m.GetNamespace(); ns != "" && clusterScoped[kind] {
		errs = append(errs, fmt.Errorf("metadata.namespace %q on a cluster-scoped kind", ns))
	} else if ns != "" {
		for _, e := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("metadata.namespace: %s", e))
		}
	}
	for _, e := range metav1validation.ValidateLabels(m.GetLabels(), field.NewPath("metadata", "labels")) {
		errs = append(errs, e)
	}
	for k := range m.GetAnnotations() {
		for _, e := range validation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, fmt.Errorf("metadata.annotations %q: %s", k, e))
		}
	}
	return errors.Join(errs...)
}

// TestManifestsDecodeStrictly decodes every generated manifest into the
// Kubernetes, prometheus-operator and Kueue API types with unknown fields
// rejected, and the pod-annotation patches into a Deployment.
func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	kinds := map[string]int{}
	for _, p := range files.Paths() {
		if !strings.HasPrefix(p, "kubernetes/") && !strings.HasPrefix(p, "kueue/") {
			continue
		}
		docs := splitDocs(files[p])
		if len(docs) == 0 {
			t.Errorf("%s: no documents", p)
		}
		for i, doc := range docs {
			if strings.HasPrefix(p, "kubernetes/patches/") {
				var d appsv1.Deployment
				if err := sigsyaml.UnmarshalStrict(doc, &d); err != nil {
					t.Errorf("%s: patch does not decode into a Deployment: %v", p, err)
				} else if d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" || d.Spec.Template.Labels[EngineLabel] == "" {
					t.Errorf("%s: patch lacks the scrape annotation or engine label", p)
				}
				kinds["patch"]++
				continue
			}
			_, kind, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s: document %d: %v", p, i+1, err)
			}
			kinds[kind]++
		}
	}
	want := map[string]int{
		"PodMonitor": 6, "ServiceMonitor": 2, "PrometheusRule": 1, "patch": 3, "Configuration": 1,
		"ResourceFlavor": 2, "ClusterQueue": 3, "LocalQueue": 4, "Namespace": 4,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s documents, want %d", kinds[k], k, n)
		}
	}
}

// TestStrictDecodeRejects makes sure the strict decoding and validation
// above would catch what an API server or kubeconform -strict refuses.
func TestStrictDecodeRejects(t *testing.T) {
	t.Parallel()
	const sm = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", sm + "metadata: {name: x}\nspec:\n  endpoints:\n  - honourLabels: true\n", "honourLabels"},
		{"wrong case", sm + "metadata: {name: x}\nspec:\n  endpoints:\n  - honorlabels: true\n", "honorlabels"},
		{"duplicate key", sm + "metadata: {name: x}\nspec:\n  endpoints:\n  - port: a\n    port: b\n", "port"},
		{"wrong type", sm + "metadata: {name: x}\nspec:\n  endpoints:\n  - honorLabels: \"yes\"\n", "honorLabels"},
		{"bad name", sm + "metadata: {name: Bad_Name}\n", "metadata.name"},
		{"bad label", sm + "metadata: {name: x, labels: {release: \"has space\"}}\n", "metadata.labels"},
		{"bad namespace", sm + "metadata: {name: x, namespace: Mon}\n", "metadata.namespace"},
		{"namespaced cluster kind", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, namespace: other}\n", "cluster-scoped"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "unknown kind"},
	} {
		if _, _, err := decodeStrict([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

func TestHonorLabels(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	for path, want := range map[string]bool{
		"kubernetes/monitors/servicemonitor-dcgm-exporter.yaml": true,
		"kubernetes/monitors/servicemonitor-kueue.yaml":         true,
	} {
		obj, _, err := decodeStrict(splitDocs(files[path])[0])
		if err != nil {
			t.Fatal(err)
		}
		sm := obj.(*monitoringv1.ServiceMonitor)
		if got := sm.Spec.Endpoints[0].HonorLabels; got != want {
			t.Errorf("%s: honorLabels %v, want %v", path, got, want)
		}
	}
	for _, e := range engines() {
		obj, _, err := decodeStrict(splitDocs(files["kubernetes/monitors/podmonitor-"+e.name+".yaml"])[0])
		if err != nil {
			t.Fatal(err)
		}
		if obj.(*monitoringv1.PodMonitor).Spec.PodMetricsEndpoints[0].HonorLabels {
			t.Errorf("%s: engines must not honour labels (they have no namespace of their own)", e.name)
		}
	}
}

// TestHelmValues checks the values files decode and say what the stack
// needs: the four profiling counters uncommented with pod mapping on, the
// team label allowlisted for namespaces and pods, Kueue's resource metrics.
func TestHelmValues(t *testing.T) {
	t.Parallel()
	files := generateT(t, false)
	var csv struct {
		Arguments      []string        `yaml:"arguments"`
		CustomMetrics  string          `yaml:"customMetrics"`
		ExtraEnv       []envVar        `yaml:"extraEnv"`
		KubeletPath    string          `yaml:"kubeletPath"`
		ServiceMonitor map[string]bool `yaml:"serviceMonitor"`
	}
	strictYAML(t, files["helm-values/dcgm-exporter.yaml"], &csv)
	for _, f := range []string{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE"} {
		if !strings.Contains("\n"+csv.CustomMetrics, "\n"+f+", gauge,") {
			t.Errorf("counters CSV does not enable %s", f)
		}
	}
	if len(csv.ExtraEnv) != 1 || csv.ExtraEnv[0] != (envVar{Name: "DCGM_EXPORTER_KUBERNETES", Value: "true"}) {
		t.Errorf("dcgm-exporter values do not turn pod mapping on: %v", csv.ExtraEnv)
	}
	var ksm struct {
		MetricLabelsAllowlist []string       `yaml:"metricLabelsAllowlist"`
		Prometheus            map[string]any `yaml:"prometheus"`
	}
	strictYAML(t, files["helm-values/kube-state-metrics.yaml"], &ksm)
	allow := strings.Join(ksm.MetricLabelsAllowlist, " ")
	for _, w := range []string{"namespaces=[team]", "pods=[team,", "kueue.x-k8s.io/local-queue-name"} {
		if !strings.Contains(allow, w) {
			t.Errorf("kube-state-metrics allowlist %q lacks %q", allow, w)
		}
	}
	var kv struct {
		ManagerConfig struct {
			ControllerManagerConfigYaml string `yaml:"controllerManagerConfigYaml"`
		} `yaml:"managerConfig"`
	}
	strictYAML(t, files["helm-values/kueue.yaml"], &kv)
	obj, _, err := decodeStrict([]byte(kv.ManagerConfig.ControllerManagerConfigYaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg := obj.(*kueueconfig.Configuration)
	if !cfg.Metrics.EnableClusterQueueResources || cfg.Metrics.LocalQueueMetrics == nil || !cfg.Metrics.LocalQueueMetrics.Enable {
		t.Errorf("Kueue configuration does not enable ClusterQueue resource and LocalQueue metrics: %+v", cfg.Metrics)
	}
}

func strictYAML(t *testing.T, content []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

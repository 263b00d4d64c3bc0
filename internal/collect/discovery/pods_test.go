package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/relabel"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(ns, name, ip string, ann map[string]string, ports ...int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, Labels: map[string]string{"app.kubernetes.io/name": "vllm", "team": "search"}},
		Spec:       corev1.PodSpec{NodeName: "gpu-node-1"},
		Status:     corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning},
	}
	c := corev1.Container{Name: "engine"}
	for _, port := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port})
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

// groups remembers the latest group per source, as the discovery manager
// does.
type groups struct {
	ch   chan []*targetgroup.Group
	last map[string]*targetgroup.Group
}

func newGroups() *groups {
	return &groups{ch: make(chan []*targetgroup.Group), last: map[string]*targetgroup.Group{}}
}

// wait reads updates until the latest group of source has the wanted number
// of targets.
func (g *groups) wait(t *testing.T, source string, targets int) *targetgroup.Group {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if tg, ok := g.last[source]; ok && len(tg.Targets) == targets {
			return tg
		}
		select {
		case tgs := <-g.ch:
			for _, tg := range tgs {
				g.last[tg.Source] = tg
			}
		case <-deadline:
			t.Fatalf("no group for %s with %d targets; latest %v", source, targets, g.last[source])
		}
	}
}

// runPods runs a discoverer of role pod on client until the test ends.
func runPods(t *testing.T, client k8s.Interface, portTargets bool) *groups {
	t.Helper()
	cfg := &PodConfig{
		SD:          &kubernetes.SDConfig{Role: kubernetes.RolePod},
		NewClient:   func(*kubernetes.SDConfig) (k8s.Interface, error) { return client, nil },
		PortTargets: portTargets,
	}
	d, err := cfg.NewDiscoverer(pdiscovery.DiscovererOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGroups()
	go d.Run(t.Context(), g.ch)
	return g
}

func TestPodsHonourAnnotations(t *testing.T) {
	client := fake.NewClientset(
		pod("serving", "vllm-0", "10.0.0.1", map[string]string{AnnotationScrape: "true", AnnotationPort: "8000", AnnotationPath: "/vllm/metrics"}),
		pod("serving", "vllm-1", "10.0.0.2", map[string]string{AnnotationScrape: "true"}, 9000),
		pod("serving", "sidecar", "10.0.0.3", nil, 8080),
		pod("serving", "noport", "10.0.0.4", map[string]string{AnnotationScrape: "true"}),
	)
	ctx := t.Context()
	g := runPods(t, client, false)

	tg := g.wait(t, "pod/serving/vllm-0", 1)
	want := model.LabelSet{"__address__": "10.0.0.1:8000", "__metrics_path__": "/vllm/metrics", "namespace": "serving", "pod": "vllm-0"}
	if got := tg.Targets[0]; !got.Equal(want) {
		t.Errorf("vllm-0 target %v, want %v", got, want)
	}
	if tg.Labels["__meta_kubernetes_pod_label_team"] != "search" || tg.Labels["__meta_kubernetes_pod_node_name"] != "gpu-node-1" ||
		tg.Labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] != "8000" {
		t.Errorf("meta labels missing: %v", tg.Labels)
	}
	tg = g.wait(t, "pod/serving/vllm-1", 1)
	if tg.Targets[0]["__address__"] != "10.0.0.2:9000" || tg.Targets[0]["__meta_kubernetes_pod_container_name"] != "engine" {
		t.Errorf("vllm-1 without port annotation: %v", tg.Targets[0])
	}
	g.wait(t, "pod/serving/sidecar", 0)
	g.wait(t, "pod/serving/noport", 0)

	// Turning scraping off, and deleting a pod, empty their groups.
	p := pod("serving", "vllm-0", "10.0.0.1", map[string]string{AnnotationScrape: "false"})
	if _, err := client.CoreV1().Pods("serving").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, "pod/serving/vllm-0", 0)
	if err := client.CoreV1().Pods("serving").Delete(ctx, "vllm-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, "pod/serving/vllm-1", 0)

	// A finished pod is not a target.
	done := pod("batch", "job-0", "10.0.1.1", map[string]string{AnnotationScrape: "true", AnnotationPort: "8000"})
	done.Status.Phase = corev1.PodSucceeded
	if _, err := client.CoreV1().Pods("batch").Create(ctx, done, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, "pod/batch/job-0", 0)
}

func TestNamespacesRestrictDiscovery(t *testing.T) {
	client := fake.NewClientset(
		pod("serving", "a", "10.0.0.1", map[string]string{AnnotationScrape: "true", AnnotationPort: "8000"}),
		pod("other", "b", "10.0.0.2", map[string]string{AnnotationScrape: "true", AnnotationPort: "8000"}),
	)
	d := NewPods(client, []string{"other"}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := newGroups()
	go d.Run(ctx, g.ch)
	tg := g.wait(t, "pod/other/b", 1)
	if tg.Targets[0]["namespace"] != "other" {
		t.Errorf("target %v", tg.Targets[0])
	}
	// A later pod in the watched namespace arrives; nothing from the
	// other namespace ever does (one informer, events in order).
	if _, err := client.CoreV1().Pods("other").Create(ctx, pod("other", "c", "10.0.0.3", map[string]string{AnnotationScrape: "true", AnnotationPort: "8000"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, "pod/other/c", 1)
	if _, ok := g.last["pod/serving/a"]; ok {
		t.Error("a pod outside the configured namespaces was discovered")
	}
}

// TestPodsPortTargets: a job whose relabelling reads container ports gets
// Prometheus's pod role — one target per declared port of every running
// pod, annotated or not, with the port's meta labels; a container without
// ports is one target at the pod IP; a pod without an IP or finished is none.
func TestPodsPortTargets(t *testing.T) {
	ksm := pod("kube-system", "kube-state-metrics-0", "10.0.0.5", nil, 8080, 8081)
	ksm.Spec.Containers[0].Ports[0].Name = "http"
	ksm.Spec.Containers = append(ksm.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
	pending := pod("kube-system", "pending", "", nil, 8080)
	finished := pod("kube-system", "finished", "10.0.0.6", nil, 8080)
	finished.Status.Phase = corev1.PodFailed
	client := fake.NewClientset(ksm, pending, finished)
	port := func(name string) []*relabel.Config {
		return []*relabel.Config{{SourceLabels: model.LabelNames{model.LabelName(name)}, Regex: relabel.MustNewRegexp("8080"), Action: relabel.Keep}}
	}
	if ReadsContainerPorts(port("__meta_kubernetes_pod_label_app")) || !ReadsContainerPorts(port("__meta_kubernetes_pod_container_port_number")) ||
		!ReadsContainerPorts(port("__meta_kubernetes_pod_container_port_name")) {
		t.Error("ReadsContainerPorts decides on the wrong labels")
	}
	g := runPods(t, client, true)
	tg := g.wait(t, "pod/kube-system/kube-state-metrics-0", 3)
	want := []model.LabelSet{
		{"__address__": "10.0.0.5:8080", "__meta_kubernetes_pod_container_name": "engine", "__meta_kubernetes_pod_container_image": "",
			"__meta_kubernetes_pod_container_init": "false", "__meta_kubernetes_pod_container_port_name": "http",
			"__meta_kubernetes_pod_container_port_number": "8080", "__meta_kubernetes_pod_container_port_protocol": "TCP"},
		{"__address__": "10.0.0.5:8081", "__meta_kubernetes_pod_container_name": "engine", "__meta_kubernetes_pod_container_image": "",
			"__meta_kubernetes_pod_container_init": "false", "__meta_kubernetes_pod_container_port_name": "",
			"__meta_kubernetes_pod_container_port_number": "8081", "__meta_kubernetes_pod_container_port_protocol": "TCP"},
		{"__address__": "10.0.0.5", "__meta_kubernetes_pod_container_name": "sidecar", "__meta_kubernetes_pod_container_image": "busybox",
			"__meta_kubernetes_pod_container_init": "false"},
	}
	for i, w := range want {
		if !tg.Targets[i].Equal(w) {
			t.Errorf("target %d: %v, want %v", i, tg.Targets[i], w)
		}
	}
	if tg.Labels["__meta_kubernetes_pod_name"] != "kube-state-metrics-0" || tg.Labels["__meta_kubernetes_namespace"] != "kube-system" {
		t.Errorf("pod meta labels: %v", tg.Labels)
	}
	g.wait(t, "pod/kube-system/pending", 0)
	g.wait(t, "pod/kube-system/finished", 0)
}

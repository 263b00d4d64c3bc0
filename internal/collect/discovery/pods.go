// Package discovery finds scrape targets among Kubernetes pods with
// client-go, honouring the prometheus.io/scrape, prometheus.io/port,
// prometheus.io/path and prometheus.io/scheme annotations; a job whose
// relabelling selects by container port gets Prometheus's pod role
// instead (PortTargets). It plugs into
// Prometheus's discovery manager as a discovery.Config, so the rest of the
// scrape configuration (relabelling, limits) applies unchanged, and it takes
// a kubernetes.Interface so tests run it on client-go's fake clientset.
//
// It is the only servescope package that imports client-go.
package discovery

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	pdiscovery "github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/util/strutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// The annotations that opt a pod in and say where its metrics are.
const (
	AnnotationScrape = "prometheus.io/scrape"
	AnnotationPort   = "prometheus.io/port"
	AnnotationPath   = "prometheus.io/path"
	AnnotationScheme = "prometheus.io/scheme"
)

const metaPrefix = model.MetaLabelPrefix + "kubernetes_"

// ClientFunc builds the client for one kubernetes_sd_configs block.
type ClientFunc func(*kubernetes.SDConfig) (k8s.Interface, error)

// NewClient builds a client from the block's kubeconfig_file or api_server,
// or from the in-cluster service account when both are empty.
func NewClient(c *kubernetes.SDConfig) (k8s.Interface, error) {
	var (
		rc  *rest.Config
		err error
	)
	switch {
	case c.KubeConfig != "":
		rc, err = clientcmd.BuildConfigFromFlags("", c.KubeConfig)
	case c.APIServer.URL != nil:
		rc = &rest.Config{Host: c.APIServer.String()}
	default:
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cs, err := k8s.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// PodConfig is a kubernetes_sd_configs block with role pod, served by
// servescope's annotation-aware pod discoverer.
type PodConfig struct {
	SD        *kubernetes.SDConfig
	NewClient ClientFunc
	// PortTargets serves Prometheus's pod role instead of the annotation
	// convention: every running pod with an IP, one target per declared
	// container port (see ReadsContainerPorts).
	PortTargets bool
}

// Meta labels of a container port, as Prometheus's pod role sets them.
const (
	metaPortName     = metaPrefix + "pod_container_port_name"
	metaPortNumber   = metaPrefix + "pod_container_port_number"
	metaPortProtocol = metaPrefix + "pod_container_port_protocol"
)

// ReadsContainerPorts reports whether relabel configs read a container
// port's meta labels: such a job (dcgm-exporter's, Kueue's and
// kube-state-metrics' in the generated config) selects its targets by
// port, as written for Prometheus's pod role, and gets PortTargets.
func ReadsContainerPorts(rcs []*relabel.Config) bool {
	for _, rc := range rcs {
		for _, l := range rc.SourceLabels {
			switch string(l) {
			case metaPortName, metaPortNumber, metaPortProtocol:
				return true
			}
		}
	}
	return false
}

// Name implements discovery.Config.
func (*PodConfig) Name() string { return "kubernetes_pods" }

// NewDiscovererMetrics implements discovery.Config; the informer needs none.
func (*PodConfig) NewDiscovererMetrics(prometheus.Registerer, pdiscovery.RefreshMetricsInstantiator) pdiscovery.DiscovererMetrics {
	return noMetrics{}
}

type noMetrics struct{}

func (noMetrics) Register() error { return nil }
func (noMetrics) Unregister()     {}

// NewDiscoverer implements discovery.Config.
func (c *PodConfig) NewDiscoverer(o pdiscovery.DiscovererOptions) (pdiscovery.Discoverer, error) {
	newClient := c.NewClient
	if newClient == nil {
		newClient = NewClient
	}
	client, err := newClient(c.SD)
	if err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var selector string
	for _, s := range c.SD.Selectors {
		if s.Role == kubernetes.RolePod {
			selector = s.Label
		}
	}
	var field string
	for _, s := range c.SD.Selectors {
		if s.Role == kubernetes.RolePod {
			field = s.Field
		}
	}
	namespaces := c.SD.NamespaceDiscovery.Names
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	return &Pods{client: client, namespaces: namespaces, labelSelector: selector, fieldSelector: field, portTargets: c.PortTargets, logger: logger}, nil
}

// Pods discovers annotated pods.
type Pods struct {
	client        k8s.Interface
	namespaces    []string
	labelSelector string
	fieldSelector string
	portTargets   bool
	logger        *slog.Logger
}

// NewPods discovers annotated pods in the namespaces (all when empty).
func NewPods(client k8s.Interface, namespaces []string, logger *slog.Logger) *Pods {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pods{client: client, namespaces: namespaces, logger: logger}
}

// Run implements discovery.Discoverer. It sends one target group per pod,
// and an empty group with the same source when the pod goes away or stops
// asking to be scraped.
func (p *Pods) Run(ctx context.Context, up chan<- []*targetgroup.Group) {
	// updates is sent to by the informers' handlers and drained below; it is
	// never closed, and sends give up when ctx ends.
	updates := make(chan *targetgroup.Group)
	send := func(tg *targetgroup.Group) {
		select {
		case updates <- tg:
		case <-ctx.Done():
		}
	}
	for _, ns := range p.namespaces {
		inf := coreinformers.NewFilteredPodInformer(p.client, ns, 0, cache.Indexers{}, func(o *metav1.ListOptions) {
			o.LabelSelector, o.FieldSelector = p.labelSelector, p.fieldSelector
		})
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { send(p.group(o)) },
			UpdateFunc: func(_, o any) { send(p.group(o)) },
			DeleteFunc: func(o any) {
				if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				if pod, ok := o.(*corev1.Pod); ok {
					send(&targetgroup.Group{Source: source(pod)})
				}
			},
		})
		if err != nil {
			p.logger.Error("watch pods", "namespace", ns, "err", err)
			continue
		}
		go inf.RunWithContext(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case tg := <-updates:
			select {
			case up <- []*targetgroup.Group{tg}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func source(pod *corev1.Pod) string { return "pod/" + pod.Namespace + "/" + pod.Name }

// group turns a pod into its target group: with PortTargets, one target
// per container port of a pod that has an IP and has not finished;
// otherwise one target when such a pod is annotated prometheus.io/scrape=true.
func (p *Pods) group(o any) *targetgroup.Group {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return &targetgroup.Group{}
	}
	tg := &targetgroup.Group{Source: source(pod)}
	if pod.Status.PodIP == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return tg
	}
	if p.portTargets {
		return portGroup(pod, tg)
	}
	if pod.Annotations[AnnotationScrape] != "true" {
		return tg
	}
	port, container := pod.Annotations[AnnotationPort], ""
	if port == "" {
		// No port annotation: the first declared container port.
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port, container = strconv.Itoa(int(c.Ports[0].ContainerPort)), c.Name
				break
			}
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.logger.Warn("pod has no usable metrics port", "pod", source(pod), "port", port)
		return tg
	}
	if container == "" {
		container = containerFor(pod, port)
	}
	t := model.LabelSet{
		model.AddressLabel: model.LabelValue(net.JoinHostPort(pod.Status.PodIP, port)),
		"namespace":        model.LabelValue(pod.Namespace),
		"pod":              model.LabelValue(pod.Name),
	}
	if path := pod.Annotations[AnnotationPath]; path != "" {
		t[model.MetricsPathLabel] = model.LabelValue(path)
	}
	if scheme := strings.ToLower(pod.Annotations[AnnotationScheme]); scheme == "http" || scheme == "https" {
		t[model.SchemeLabel] = model.LabelValue(scheme)
	}
	if container != "" {
		t[metaPrefix+"pod_container_name"] = model.LabelValue(container)
	}
	tg.Targets = []model.LabelSet{t}
	tg.Labels = podLabels(pod)
	return tg
}

// portGroup fills tg as Prometheus's pod role does: one target per
// declared container port, one per container without ports (its address
// the pod IP alone), annotations not required.
func portGroup(pod *corev1.Pod, tg *targetgroup.Group) *targetgroup.Group {
	for _, c := range pod.Spec.Containers {
		base := model.LabelSet{
			metaPrefix + "pod_container_name":  model.LabelValue(c.Name),
			metaPrefix + "pod_container_image": model.LabelValue(c.Image),
			metaPrefix + "pod_container_init":  "false",
		}
		if len(c.Ports) == 0 {
			t := base.Clone()
			t[model.AddressLabel] = model.LabelValue(pod.Status.PodIP)
			tg.Targets = append(tg.Targets, t)
			continue
		}
		for _, cp := range c.Ports {
			port := strconv.Itoa(int(cp.ContainerPort))
			t := base.Clone()
			t[model.AddressLabel] = model.LabelValue(net.JoinHostPort(pod.Status.PodIP, port))
			t[metaPortName] = model.LabelValue(cp.Name)
			t[metaPortNumber] = model.LabelValue(port)
			t[metaPortProtocol] = model.LabelValue(cmp.Or(cp.Protocol, corev1.ProtocolTCP))
			tg.Targets = append(tg.Targets, t)
		}
	}
	tg.Labels = podLabels(pod)
	return tg
}

// containerFor names the container that declares port, if any.
func containerFor(pod *corev1.Pod, port string) string {
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if strconv.Itoa(int(cp.ContainerPort)) == port {
				return c.Name
			}
		}
	}
	return ""
}

// podLabels are the __meta_kubernetes_* labels Prometheus's pod role sets,
// so relabel_configs written for Prometheus work unchanged.
func podLabels(pod *corev1.Pod) model.LabelSet {
	ls := model.LabelSet{
		metaPrefix + "namespace":     model.LabelValue(pod.Namespace),
		metaPrefix + "pod_name":      model.LabelValue(pod.Name),
		metaPrefix + "pod_ip":        model.LabelValue(pod.Status.PodIP),
		metaPrefix + "pod_node_name": model.LabelValue(pod.Spec.NodeName),
		metaPrefix + "pod_host_ip":   model.LabelValue(pod.Status.HostIP),
		metaPrefix + "pod_uid":       model.LabelValue(pod.UID),
		metaPrefix + "pod_phase":     model.LabelValue(pod.Status.Phase),
		metaPrefix + "pod_ready":     model.LabelValue(strconv.FormatBool(podReady(pod))),
	}
	for k, v := range pod.Labels {
		n := strutil.SanitizeLabelName(k)
		ls[model.LabelName(metaPrefix+"pod_label_"+n)] = model.LabelValue(v)
		ls[model.LabelName(metaPrefix+"pod_labelpresent_"+n)] = "true"
	}
	for k, v := range pod.Annotations {
		n := strutil.SanitizeLabelName(k)
		ls[model.LabelName(metaPrefix+"pod_annotation_"+n)] = model.LabelValue(v)
		ls[model.LabelName(metaPrefix+"pod_annotationpresent_"+n)] = "true"
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		ls[metaPrefix+"pod_controller_kind"] = model.LabelValue(ref.Kind)
		ls[metaPrefix+"pod_controller_name"] = model.LabelValue(ref.Name)
	}
	return ls
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

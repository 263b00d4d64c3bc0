package gen

import (
	"strconv"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/servescope/servescope/internal/schema"
)

// EngineLabel is the pod label the engine PodMonitors select on; the
// pod-annotation patches set it together with the prometheus.io annotations.
const EngineLabel = "servescope.io/engine"

// engine is a serving engine scraped from its pods.
type engine struct {
	name string
	port int32
	path string
	note string
}

// engines lists the serving engines with their default metrics port.
func engines() []engine {
	return []engine{
		{name: "vllm", port: 8000, path: "/metrics", note: "vLLM's OpenAI server serves /metrics on its API port"},
		{name: "sglang", port: 30000, path: "/metrics", note: "SGLang needs --enable-metrics"},
		{name: "tgi", port: 80, path: "/metrics", note: "TGI serves /metrics on its HTTP port"},
	}
}

// DCGM and Kueue endpoints: the dcgm-exporter Helm chart's service port name
// and labels, Kueue's metrics service (controller-runtime's authenticated
// HTTPS endpoint).
const (
	dcgmPort      = 9400
	dcgmPortName  = "metrics"
	dcgmAppName   = "dcgm-exporter"
	kueueMetrics  = 8443
	kueuePortName = "https"
	saTokenFile   = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	// Kueue (chart and kustomize install, ≥0.15) labels its metrics Service
	// app.kubernetes.io/component=metrics-service and its visibility
	// Service visibility-service.
	kueueComponentLabel   = "app.kubernetes.io/component"
	kueueMetricsComponent = "metrics-service"
	partOfLabel           = "app.kubernetes.io/part-of"
	partOfValue           = "servescope"
)

func monitorMeta(name string, o Options) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: o.Namespace,
		Labels: mergeLabels(o.MonitorLabels, map[string]string{partOfLabel: partOfValue}),
	}
}

// jobLabel sets the job label to the name of the matching job of the plain
// scrape config, in place of the operator's default (the Service's name, or
// namespace/monitor for a PodMonitor), so rules and alerts select the same
// job in both setups.
func jobLabel(job string) []monitoringv1.RelabelConfig {
	return []monitoringv1.RelabelConfig{{TargetLabel: "job", Replacement: ptr.To(job), Action: "replace"}}
}

// monitors writes the PodMonitors of the engines, the ServiceMonitors of
// dcgm-exporter and Kueue, and the pod-annotation patches.
func monitors(files Files, o Options) error {
	for _, e := range engines() {
		pm := &monitoringv1.PodMonitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
			ObjectMeta: monitorMeta("servescope-"+e.name, o),
			Spec: monitoringv1.PodMonitorSpec{
				Selector:          metav1.LabelSelector{MatchLabels: map[string]string{EngineLabel: e.name}},
				NamespaceSelector: monitoringv1.NamespaceSelector{Any: true},
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
					PortNumber:     ptr.To(e.port),
					Path:           e.path,
					Interval:       "15s",
					RelabelConfigs: jobLabel(schema.JobEngines),
					// Engines expose no namespace or pod labels of their
					// own: the target's labels are the workload's.
					HonorLabels: false,
				}},
			},
		}
		if err := addManifests(files, "kubernetes/monitors/podmonitor-"+e.name+".yaml", pm); err != nil {
			return err
		}
		if err := addManifests(files, "kubernetes/patches/pod-annotations-"+e.name+".yaml", annotationPatch(e)); err != nil {
			return err
		}
	}
	dcgm := &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: monitorMeta("servescope-dcgm-exporter", o),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": dcgmAppName}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{o.DCGMNamespace}},
			Endpoints: []monitoringv1.Endpoint{{
				Port:           dcgmPortName,
				Path:           "/metrics",
				Interval:       "15s",
				RelabelConfigs: jobLabel(schema.JobDCGM),
				// dcgm-exporter labels each GPU with the pod, namespace and
				// container holding it; keep them instead of renaming them to
				// exported_*. Idle GPUs then carry the exporter's own pod,
				// which the catalog treats as unallocated.
				HonorLabels: true,
			}},
		},
	}
	if err := addManifests(files, "kubernetes/monitors/servicemonitor-dcgm-exporter.yaml", dcgm); err != nil {
		return err
	}
	tls := &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr.To(true)}}
	kueue := &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: monitorMeta("servescope-kueue", o),
		Spec: monitoringv1.ServiceMonitorSpec{
			// Kueue's metrics Service only: its visibility-server Service
			// has the same name, control-plane labels and port name.
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{"control-plane": "controller-manager", "app.kubernetes.io/name": "kueue", kueueComponentLabel: kueueMetricsComponent}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{o.KueueNamespace}},
			Endpoints: []monitoringv1.Endpoint{{
				Port:           kueuePortName,
				Path:           "/metrics",
				Scheme:         ptr.To(monitoringv1.SchemeHTTPS),
				Interval:       "30s",
				RelabelConfigs: jobLabel(schema.JobKueue),
				// LocalQueue metrics carry the queue's namespace; keep it
				// instead of renaming it to exported_namespace.
				HonorLabels:                    true,
				BearerTokenFile:                saTokenFile,
				HTTPConfigWithProxyAndTLSFiles: monitoringv1.HTTPConfigWithProxyAndTLSFiles{HTTPConfigWithTLSFiles: monitoringv1.HTTPConfigWithTLSFiles{TLSConfig: tls}},
			}},
		},
	}
	if err := addManifests(files, "kubernetes/monitors/servicemonitor-kueue.yaml", kueue); err != nil {
		return err
	}
	return gatewayMonitors(files, o)
}

// patch is a strategic-merge patch of a workload's pod template (a
// Deployment, StatefulSet or LeaderWorkerSet template has the same shape).
type patch struct {
	Spec patchSpec `json:"spec"`
}

type patchSpec struct {
	Template patchTemplate `json:"template"`
}

type patchTemplate struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
}

// annotationPatch adds the engine label (for the PodMonitor) and the
// prometheus.io annotations (for annotation-based scraping, as servescope's
// own discovery and prometheus.yml do).
func annotationPatch(e engine) patch {
	return patch{Spec: patchSpec{Template: patchTemplate{Metadata: metav1.ObjectMeta{
		Labels: map[string]string{EngineLabel: e.name},
		Annotations: map[string]string{
			"prometheus.io/scrape": "true",
			"prometheus.io/port":   strconv.Itoa(int(e.port)),
			"prometheus.io/path":   e.path,
		},
	}}}}
}

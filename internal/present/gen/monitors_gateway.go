package gen

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/servescope/servescope/internal/schema"
)

// Inference gateways' pods and metrics ports.
//
// llm-d's endpoint picker (llm-d-router v0.10.0
// config/charts/routerlib/templates/_deployment.yaml and _helpers.tpl): its
// pods carry only the selector label llm-d-router-gateway (gateway mode) or
// llm-d-router-standalone (standalone mode), valued with the release's name,
// and serve /metrics on the container port "metrics" (9090), behind
// controller-runtime's authentication and authorization filter by default
// (--metrics-endpoint-auth, pkg/epp/server/options.go): the scraper sends
// its ServiceAccount token and needs `get` on the non-resource URL /metrics.
//
// Dynamo's frontend: the operator labels its pods
// nvidia.com/dynamo-component-type=frontend; it serves /metrics on its HTTP
// port 8000.
const (
	eppMetricsPort      = 9090
	eppGatewayLabel     = "llm-d-router-gateway"
	eppStandaloneLabel  = "llm-d-router-standalone"
	dynamoFrontendPort  = 8000
	dynamoComponentType = "nvidia.com/dynamo-component-type"
	// metricsReaderSecret holds the token the PodMonitors of the EPP send.
	metricsReaderSecret = "servescope-metrics-reader"
)

// gatewayMonitors writes a PodMonitor per llm-d EPP mode and one for
// Dynamo's frontend, in any namespace.
func gatewayMonitors(files Files, o Options) error {
	pod := func(name string, sel metav1.LabelSelector, ep monitoringv1.PodMetricsEndpoint) *monitoringv1.PodMonitor {
		return &monitoringv1.PodMonitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
			ObjectMeta: monitorMeta(name, o),
			Spec: monitoringv1.PodMonitorSpec{
				Selector:            sel,
				NamespaceSelector:   monitoringv1.NamespaceSelector{Any: true},
				PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{ep},
			},
		}
	}
	epp := func() monitoringv1.PodMetricsEndpoint {
		return monitoringv1.PodMetricsEndpoint{
			PortNumber:     ptr.To(int32(eppMetricsPort)),
			Path:           "/metrics",
			Interval:       "15s",
			RelabelConfigs: jobLabel(schema.JobEPP),
			// The EPP's own namespace label (on scheduler attempts) is the
			// endpoint's: keep the target's, as exported_namespace.
			HonorLabels: false,
			// A ServiceAccount token allowed `get` on /metrics, from the
			// secret metricsReaderSecret in the monitors' namespace (see
			// docs/generate.md).
			HTTPConfigWithProxy: monitoringv1.HTTPConfigWithProxy{HTTPConfig: monitoringv1.HTTPConfig{
				HTTPConfigWithoutTLS: monitoringv1.HTTPConfigWithoutTLS{Authorization: &monitoringv1.SafeAuthorization{
					Type:        "Bearer",
					Credentials: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: metricsReaderSecret}, Key: "token"},
				}},
			}},
		}
	}
	exists := func(key string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpExists}}}
	}
	for _, m := range []*monitoringv1.PodMonitor{
		pod("servescope-llm-d-epp", exists(eppGatewayLabel), epp()),
		pod("servescope-llm-d-epp-standalone", exists(eppStandaloneLabel), epp()),
		pod("servescope-dynamo-frontend", metav1.LabelSelector{MatchLabels: map[string]string{dynamoComponentType: "frontend"}},
			monitoringv1.PodMetricsEndpoint{PortNumber: ptr.To(int32(dynamoFrontendPort)), Path: "/metrics", Interval: "15s",
				RelabelConfigs: jobLabel(schema.JobDynamoFrontend), HonorLabels: false}),
	} {
		if err := addManifests(files, "kubernetes/monitors/podmonitor-"+m.Name[len("servescope-"):]+".yaml", m); err != nil {
			return err
		}
	}
	return nil
}

// gatewayScrapeConfigs are the plain Prometheus jobs of the gateways.
func gatewayScrapeConfigs() []scrapeConfig {
	return []scrapeConfig{
		{
			JobName:             schema.JobEPP,
			HonorLabels:         false,
			Authorization:       &authorization{CredentialsFile: saTokenFile},
			KubernetesSDConfigs: []kubernetesSD{{Role: "pod"}},
			RelabelConfigs: append([]relabelConfig{
				{
					SourceLabels: []string{"__meta_kubernetes_pod_labelpresent_llm_d_router_gateway", "__meta_kubernetes_pod_labelpresent_llm_d_router_standalone"},
					Separator:    ";", Regex: ".*true.*", Action: "keep",
				},
				keepPort(eppMetricsPort),
			}, podTargetLabels()...),
		},
		{
			JobName:             schema.JobDynamoFrontend,
			HonorLabels:         false,
			KubernetesSDConfigs: []kubernetesSD{{Role: "pod"}},
			RelabelConfigs: append([]relabelConfig{
				{SourceLabels: []string{"__meta_kubernetes_pod_label_nvidia_com_dynamo_component_type"}, Regex: "frontend", Action: "keep"},
				keepPort(dynamoFrontendPort),
			}, podTargetLabels()...),
		},
	}
}

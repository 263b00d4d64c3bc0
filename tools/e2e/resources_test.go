package e2e

import "k8s.io/apimachinery/pkg/runtime/schema"

var (
	apiextensionsCRDs = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deployments       = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	serviceMonitors   = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
	podMonitors       = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	services          = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	claims            = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

package gen

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
)

// GPUResource is the extended resource the queues give quota of.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// namespaceNameLabel is set by Kubernetes on every namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

func sortedKeys[M ~map[string]V, V any](m M) []string { return slices.Sorted(maps.Keys(m)) }

// kueueFiles writes the per-team Kueue manifests; nothing without teams.
func kueueFiles(files Files, t *Teams, o Options) error {
	if t == nil {
		return nil
	}
	flavors := make([]any, 0, len(t.Flavors))
	for _, f := range slices.SortedFunc(slices.Values(t.Flavors), func(a, b Flavor) int { return cmp.Compare(a.Name, b.Name) }) {
		flavors = append(flavors, &kueue.ResourceFlavor{
			TypeMeta:   metav1.TypeMeta{APIVersion: kueue.GroupVersion.String(), Kind: "ResourceFlavor"},
			ObjectMeta: metav1.ObjectMeta{Name: f.Name, Labels: map[string]string{partOfLabel: partOfValue}},
			Spec:       kueue.ResourceFlavorSpec{NodeLabels: f.NodeLabels},
		})
	}
	if err := addManifests(files, "kueue/resourceflavors.yaml", flavors...); err != nil {
		return err
	}
	for _, tm := range t.Teams {
		objs := []any{clusterQueue(t, tm, o)}
		for _, ns := range slices.Sorted(slices.Values(tm.Namespaces)) {
			objs = append(objs, &corev1.Namespace{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{o.TeamLabel: tm.Name}},
			}, &kueue.LocalQueue{
				TypeMeta:   metav1.TypeMeta{APIVersion: kueue.GroupVersion.String(), Kind: "LocalQueue"},
				ObjectMeta: metav1.ObjectMeta{Name: tm.Name, Namespace: ns, Labels: map[string]string{o.TeamLabel: tm.Name, partOfLabel: partOfValue}},
				Spec:       kueue.LocalQueueSpec{ClusterQueue: kueue.ClusterQueueReference(tm.Name)},
			})
		}
		if err := addManifests(files, "kueue/teams/"+tm.Name+".yaml", objs...); err != nil {
			return err
		}
	}
	return nil
}

// clusterQueue is a team's ClusterQueue: GPU quota per flavor (plus cpu and
// memory when any flavor of the team sets them), open to the team's
// namespaces, in the cohort if there is one.
func clusterQueue(t *Teams, tm Team, o Options) *kueue.ClusterQueue {
	var withCPU, withMem bool
	for _, q := range tm.Quota {
		withCPU = withCPU || q.CPU != ""
		withMem = withMem || q.Memory != ""
	}
	covered := []corev1.ResourceName{GPUResource}
	if withCPU {
		covered = append(covered, corev1.ResourceCPU)
	}
	if withMem {
		covered = append(covered, corev1.ResourceMemory)
	}
	rg := kueue.ResourceGroup{CoveredResources: covered}
	for _, q := range tm.Quota {
		gpu := kueue.ResourceQuota{Name: GPUResource, NominalQuota: *resource.NewQuantity(q.GPUs, resource.DecimalSI)}
		if q.BorrowingLimit != nil {
			gpu.BorrowingLimit = resource.NewQuantity(*q.BorrowingLimit, resource.DecimalSI)
		}
		fq := kueue.FlavorQuotas{Name: kueue.ResourceFlavorReference(q.Flavor), Resources: []kueue.ResourceQuota{gpu}}
		if withCPU {
			fq.Resources = append(fq.Resources, kueue.ResourceQuota{Name: corev1.ResourceCPU, NominalQuota: quantity(q.CPU)})
		}
		if withMem {
			fq.Resources = append(fq.Resources, kueue.ResourceQuota{Name: corev1.ResourceMemory, NominalQuota: quantity(q.Memory)})
		}
		rg.Flavors = append(rg.Flavors, fq)
	}
	return &kueue.ClusterQueue{
		TypeMeta:   metav1.TypeMeta{APIVersion: kueue.GroupVersion.String(), Kind: "ClusterQueue"},
		ObjectMeta: metav1.ObjectMeta{Name: tm.Name, Labels: map[string]string{o.TeamLabel: tm.Name, partOfLabel: partOfValue}},
		Spec: kueue.ClusterQueueSpec{
			ResourceGroups: []kueue.ResourceGroup{rg},
			CohortName:     kueue.CohortReference(t.Cohort),
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: slices.Sorted(slices.Values(tm.Namespaces)),
			}}},
		},
	}
}

// quantity parses a validated quantity; "" is zero.
func quantity(s string) resource.Quantity {
	if s == "" {
		return resource.Quantity{Format: resource.DecimalSI}
	}
	return resource.MustParse(s)
}

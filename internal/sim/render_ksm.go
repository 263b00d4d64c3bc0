package sim

// ksmFamilies are the kube-state-metrics families servescope joins on
// (gpu-kueue-cost.md §3), with allowlisted labels as label_<sanitized>.
func ksmFamilies() []famSpec {
	g := func(n, h string, l ...string) famSpec { return famSpec{name: n, help: h, typ: gaugeT, labels: l} }
	return []famSpec{
		g("kube_namespace_labels", "Kubernetes labels converted to Prometheus labels.", "namespace", "label_team"),
		g("kube_pod_labels", "Kubernetes labels converted to Prometheus labels.", "namespace", "pod", "uid", "label_app", "label_team",
			"label_kueue_x_k8s_io_local_queue_name", "label_kueue_x_k8s_io_cluster_queue_name"),
		g("kube_pod_info", "Information about pod.", "namespace", "pod", "uid", "host_ip", "pod_ip", "node", "created_by_kind", "created_by_name", "priority_class", "host_network"),
		g("kube_pod_status_phase", "The pods current phase.", "namespace", "pod", "uid", "phase"),
		g("kube_pod_container_resource_requests", "The number of requested request resource by a container. It is recommended to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it is more precise.",
			"namespace", "pod", "uid", "container", "node", "resource", "unit"),
		g("kube_node_status_allocatable", "The allocatable for different resources of a node that are available for scheduling.", "node", "resource", "unit"),
		g("kube_node_labels", "Kubernetes labels converted to Prometheus labels.", "node", "label_nvidia_com_gpu_product", "label_kueue_flavor"),
	}
}

// collectKSM renders kube-state-metrics.
func (c *Cluster) collectKSM(em emitter) {
	em.gauge("kube_namespace_labels", 1, c.sc.Exporter.Namespace, "")
	em.gauge("kube_namespace_labels", 1, "kueue-system", "")
	for _, t := range c.teams {
		em.gauge("kube_namespace_labels", 1, t.ns, t.name)
	}
	for _, n := range c.nodes {
		gpuRes := sanitizeResource(n.fp.resource)
		em.gauge("kube_node_status_allocatable", float64(len(n.units)), n.name, gpuRes, "integer")
		em.gauge("kube_node_status_allocatable", 190, n.name, "cpu", "core")
		em.gauge("kube_node_status_allocatable", 2.0e12, n.name, "memory", "byte")
		em.gauge("kube_node_status_allocatable", 110, n.name, "pods", "integer")
		em.gauge("kube_node_labels", 1, n.name, gpuProductLabel(n.fp.card.modelName), n.flavor)
	}
	for _, p := range c.pods {
		app, kind, owner := "", "Job", ""
		if p.dep != nil {
			app, kind, owner = p.dep.spec.Name, "ReplicaSet", p.dep.spec.Name+"-"+p.dep.rs
		} else {
			app = p.job.js.Name
			owner = p.name[:len(p.name)-6]
		}
		if c.rend.roles {
			role := ""
			if p.dep != nil {
				role = p.dep.spec.Role
			}
			em.gauge("kube_pod_labels", 1, p.ns, p.name, p.uid, app, p.labelTeam().name, p.team.lq, p.team.cq, role)
		} else {
			em.gauge("kube_pod_labels", 1, p.ns, p.name, p.uid, app, p.labelTeam().name, p.team.lq, p.team.cq)
		}
		em.gauge("kube_pod_info", 1, p.ns, p.name, p.uid, p.node.ip, p.ip, p.node.name, kind, owner, priorityClass(p.wl.priority), "false")
		for _, ph := range []string{"Pending", "Succeeded", "Failed", "Unknown", "Running"} {
			em.gauge("kube_pod_status_phase", b2f(ph == p.phase), p.ns, p.name, p.uid, ph)
		}
		res := sanitizeResource(p.node.fp.resource)
		em.gauge("kube_pod_container_resource_requests", float64(len(p.units)), p.ns, p.name, p.uid, p.container, p.node.name, res, "integer")
		em.gauge("kube_pod_container_resource_requests", float64(8*len(p.units)), p.ns, p.name, p.uid, p.container, p.node.name, "cpu", "core")
		em.gauge("kube_pod_container_resource_requests", float64(64<<30)*float64(len(p.units)), p.ns, p.name, p.uid, p.container, p.node.name, "memory", "byte")
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"
)

// envKSM names the kube-state-metrics binary (scripts/e2e.sh builds it
// from k8s.io/kube-state-metrics/v2 in tools/kube-state-metrics).
const envKSM = "SERVESCOPE_E2E_KSM"

// Loopback addresses given to the pods as status.podIP: no kubelet runs
// them, so the scrapes of the engines are refused at once (nothing
// listens there), while kube-state-metrics listens on ksmIP:8080, where
// the chart's kube-state-metrics job expects its container port.
const (
	ksmIP       = "127.42.17.1"
	ksmPort     = "8080"
	podIPPrefix = "127.42.17."
)

// testPod is one pod object the test creates; a kubelet never runs it.
type testPod struct {
	ns, name, ip string
	labels       map[string]string
	annotations  map[string]string
	port         int32 // declared container port (0: none)
	gpus         int64 // nvidia.com/gpu requested and limited
}

func (p testPod) object() *corev1.Pod {
	c := corev1.Container{Name: "main", Image: "example.invalid/engine:1"}
	if p.port > 0 {
		c.Ports = []corev1.ContainerPort{{Name: "http-metrics", ContainerPort: p.port}}
	}
	if p.gpus > 0 {
		q := corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(p.gpus, resource.DecimalSI)}
		c.Resources = corev1.ResourceRequirements{Requests: q, Limits: q}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: p.labels, Annotations: p.annotations},
		Spec:       corev1.PodSpec{NodeName: "gpu-node-1", Containers: []corev1.Container{c}},
	}
}

func scrapeAnnotations(port, path string) map[string]string {
	m := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port}
	if path != "" {
		m["prometheus.io/path"] = path
	}
	return m
}

// TestDiscoveryAndKubeStateMetrics runs servescope with the chart's
// scrape configuration against the API server, as the chart's read-only
// ServiceAccount: its pod discovery (client-go informers) must find
// exactly the annotated pods and follow changes, a write with its token is
// refused, and the real kube-state-metrics it scrapes must give the
// catalog the namespace → team and pod → queue joins and cost the team of
// each pod.
func TestDiscoveryAndKubeStateMetrics(t *testing.T) {
	c := connect(t)
	ksmBin, bin := os.Getenv(envKSM), os.Getenv(envBinary)
	if ksmBin == "" || bin == "" {
		t.Fatal(envKSM + " and " + envBinary + " must be set (scripts/e2e.sh)")
	}
	ctx := t.Context()
	admin, err := kubernetes.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// The chart, embedded mode: its ServiceAccount, read-only ClusterRole
	// and binding, and its servescope.yml.
	const release = "servescope-sd"
	ch, err := loader.Load("../../deploy/helm/servescope")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.helmInstall(ctx, ch, release, release, nil); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	cm, err := admin.CoreV1().ConfigMaps(release).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	saKubeconfig := serviceAccountKubeconfig(ctx, t, c, admin, dir, release)

	// The objects: namespaces (one labelled with its team), a GPU node,
	// annotated and unannotated pods, and a pod object standing for
	// kube-state-metrics.
	for name, team := range map[string]string{"e2e-alpha": "alpha", "e2e-shared": ""} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if team != "" {
			ns.Labels = map[string]string{"team": team}
		}
		if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// No controller-manager creates the default ServiceAccounts that the
	// admission of a pod looks up.
	for _, ns := range []string{"e2e-alpha", "e2e-shared", "kube-system"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
		if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-node-1",
		Labels: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gpus := corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("8")}
	node.Status.Capacity, node.Status.Allocatable = gpus, gpus
	if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := []testPod{
		// Team from its namespace's label.
		{ns: "e2e-alpha", name: "vllm-alpha", ip: podIPPrefix + "11", gpus: 1,
			labels: map[string]string{"app": "vllm"}, annotations: scrapeAnnotations("8000", "/metrics")},
		// Team and queues from its own labels, in a namespace with none.
		{ns: "e2e-shared", name: "sglang-beta", ip: podIPPrefix + "12", gpus: 2,
			labels:      map[string]string{"team": "beta", "kueue.x-k8s.io/local-queue-name": "lq-beta", "kueue.x-k8s.io/cluster-queue-name": "cq-beta"},
			annotations: scrapeAnnotations("30000", "/custom")},
		{ns: "e2e-alpha", name: "not-annotated", ip: podIPPrefix + "13", port: 9000},
		{ns: "e2e-alpha", name: "opted-out", ip: podIPPrefix + "14", annotations: map[string]string{"prometheus.io/scrape": "false", "prometheus.io/port": "9000"}},
		{ns: "kube-system", name: "kube-state-metrics-0", ip: ksmIP, port: 8080,
			labels: map[string]string{"app.kubernetes.io/name": "kube-state-metrics"}},
	}
	for _, p := range pods {
		createRunningPod(ctx, t, admin, p)
	}

	// The ServiceAccount reads and cannot write.
	sa := clientFor(t, saKubeconfig)
	if l, err := sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) < len(pods) {
		t.Fatalf("list pods as the chart's ServiceAccount: %v", err)
	}
	_, err = sa.CoreV1().Pods("e2e-alpha").Create(ctx, testPod{ns: "e2e-alpha", name: "written"}.object(), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("creating a pod with the ServiceAccount's token: %v, want 403 Forbidden", err)
	}
	if err := sa.CoreV1().Pods("e2e-alpha").Delete(ctx, "vllm-alpha", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("deleting a pod with the ServiceAccount's token: %v, want 403 Forbidden", err)
	}

	// kube-state-metrics with the allowlist `servescope generate` writes
	// into its chart values.
	allow := generatedAllowlist(ctx, t, bin, dir)
	ksmURL := "http://" + net.JoinHostPort(ksmIP, ksmPort)
	start(ctx, t, dir, "kube-state-metrics", ksmBin, ksmURL+"/healthz",
		"--kubeconfig", c.kubeconfig, "--host", ksmIP, "--port", ksmPort,
		"--telemetry-host", ksmIP, "--telemetry-port", "8081",
		"--resources", "pods,namespaces,nodes", "--metric-labels-allowlist", allow)

	// servescope with the chart's servescope.yml; out of the cluster, its
	// discovery reads the ServiceAccount's kubeconfig instead of the
	// in-cluster token, and it scrapes and evaluates every second.
	cfgFile := filepath.Join(dir, "servescope.yml")
	writeServescopeConfig(t, cfgFile, cm.Data["servescope.yml"], saKubeconfig)
	addr := freeAddr(t)
	api := "http://" + addr
	begin := time.Now()
	start(ctx, t, dir, "servescope", bin, api+"/-/ready",
		"serve", "--config", cfgFile, "--storage.path", filepath.Join(dir, "data"), "--web.listen-address", addr)

	want := map[string]string{ // engine targets: address → pod
		podIPPrefix + "11:8000":  "vllm-alpha",
		podIPPrefix + "12:30000": "sglang-beta",
	}
	waitTargets(ctx, t, api, "servescope-engines", want)
	waitTargets(ctx, t, api, "kube-state-metrics", map[string]string{ksmIP + ":8080": "kube-state-metrics-0"})
	for _, job := range []string{"dcgm-exporter", "kueue"} {
		waitTargets(ctx, t, api, job, map[string]string{})
	}
	checkEngineTargets(ctx, t, api)

	// The discovery follows the API server: an annotated pod appears, a
	// deleted one goes.
	patch := `{"metadata":{"annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"9000"}}}`
	if _, err := admin.CoreV1().Pods("e2e-alpha").Patch(ctx, "not-annotated", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	want[podIPPrefix+"13:9000"] = "not-annotated"
	waitTargets(ctx, t, api, "servescope-engines", want)
	// Grace period 0: no kubelet confirms a graceful deletion here.
	if err := admin.CoreV1().Pods("e2e-alpha").Delete(ctx, "not-annotated", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	delete(want, podIPPrefix+"13:9000")
	waitTargets(ctx, t, api, "servescope-engines", want)

	// The real kube_pod_labels and kube_namespace_labels, through the
	// catalog's recorded joins.
	waitQuery(ctx, t, api, `kube_pod_labels{namespace="e2e-shared",pod="sglang-beta",label_team="beta",label_kueue_x_k8s_io_local_queue_name="lq-beta"}`, 1)
	waitSeries(ctx, t, api, "servescope:namespace_team:info", []map[string]string{{"namespace": "e2e-alpha", "team": "alpha"}})
	waitSeries(ctx, t, api, "servescope:pod_queue:info", []map[string]string{{"namespace": "e2e-shared", "pod": "sglang-beta", "local_queue": "lq-beta", "cluster_queue": "cq-beta"}})

	// Cost: each pod's GPUs to its team, from the pod label (beta) or its
	// namespace's (alpha).
	window, costs := checkCostTeams(ctx, t, api, begin)

	// The central servescope (chart mode external) over this one's API
	// gives the same cost.
	checkCentral(ctx, t, c, ch, dir, bin, api, window, costs)

	// An agent (chart mode agent) sends the same series, with its cluster
	// label, to a remote-write receiver.
	checkAgent(ctx, t, c, ch, dir, bin)
}

// createRunningPod creates p and sets, through the status subresource,
// what a kubelet would: phase Running and the pod IP.
func createRunningPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, p testPod) {
	t.Helper()
	pod, err := cs.CoreV1().Pods(p.ns).Create(ctx, p.object(), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("pod %s/%s: %v", p.ns, p.name, err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: p.ip, PodIPs: []corev1.PodIP{{IP: p.ip}}, HostIP: "127.42.17.254", StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
	}
	if _, err := cs.CoreV1().Pods(p.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod %s/%s status: %v", p.ns, p.name, err)
	}
}

// serviceAccountKubeconfig writes a kubeconfig with a token of the
// release's ServiceAccount (named as the release, in its namespace), minted
// with the TokenRequest API.
func serviceAccountKubeconfig(ctx context.Context, t *testing.T, c *cluster, admin kubernetes.Interface, dir, release string) string {
	t.Helper()
	tr, err := admin.CoreV1().ServiceAccounts(release).CreateToken(ctx, release,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount %s/%s: %v", release, release, err)
	}
	path := filepath.Join(dir, release+".kubeconfig")
	writeKubeconfig(t, path, c.cfg.Host, "system:serviceaccount:"+release+":"+release, tr.Status.Token)
	return path
}

func writeKubeconfig(t *testing.T, path, server, user, token string) {
	t.Helper()
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: %q
  user: {token: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: %q}
current-context: e2e
`, server, user, token, user)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	c := connectTo(t, kubeconfig)
	cs, err := kubernetes.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// generatedAllowlist runs `servescope generate` and returns the
// kube-state-metrics --metric-labels-allowlist of its chart values.
func generatedAllowlist(ctx context.Context, t *testing.T, bin, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "generated")
	if b, err := exec.CommandContext(ctx, bin, "generate", "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, b)
	}
	content, err := os.ReadFile(filepath.Join(out, "helm-values", "kube-state-metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		MetricLabelsAllowlist []string `json:"metricLabelsAllowlist"`
	}
	if err := sigsyaml.Unmarshal(content, &v); err != nil || len(v.MetricLabelsAllowlist) == 0 {
		t.Fatalf("generated kube-state-metrics values: %v\n%s", err, content)
	}
	return strings.Join(v.MetricLabelsAllowlist, ",")
}

// writeServescopeConfig writes the chart's servescope.yml with every
// kubernetes_sd_configs block reading kubeconfig (when not empty) and 1 s
// scrape and evaluation intervals (external labels kept).
func writeServescopeConfig(t *testing.T, path, chartConfig, kubeconfig string) {
	t.Helper()
	var cfg map[string]any
	if err := sigsyaml.Unmarshal([]byte(chartConfig), &cfg); err != nil {
		t.Fatalf("chart servescope.yml: %v", err)
	}
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
	}
	global["scrape_interval"], global["scrape_timeout"], global["evaluation_interval"] = "1s", "1s", "1s"
	cfg["global"] = global
	jobs, _ := cfg["scrape_configs"].([]any)
	for _, j := range jobs {
		sds, _ := j.(map[string]any)["kubernetes_sd_configs"].([]any)
		for _, sd := range sds {
			if kubeconfig != "" {
				sd.(map[string]any)["kubeconfig_file"] = kubeconfig
			}
		}
	}
	b, err := sigsyaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a process until the test ends, its output in dir/name.log,
// and polls ready (200) with a deadline.
func start(ctx context.Context, t *testing.T, dir, name, bin, ready string, args ...string) {
	t.Helper()
	startEnv(ctx, t, dir, name, bin, ready, nil, args...)
}

// startEnv is start with env (NAME=VALUE) added to the environment.
func startEnv(ctx context.Context, t *testing.T, dir, name, bin, ready string, env []string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log (last 3000 bytes):\n%s", name, tail(b, 3000))
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if get(ctx, ready, nil) == nil {
			return
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited (%v):\n%s", name, err, tail(b, 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within 2m", name, ready)
		}
		time.Sleep(200 * time.Millisecond) // polling a real process
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// get GETs u and decodes a JSON body into out (when not nil); any status
// but 200 is an error.
func get(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, buf.Bytes())
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(buf.Bytes(), out)
}

type target struct {
	Labels           map[string]string `json:"labels"`
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	ScrapePool       string            `json:"scrapePool"`
	ScrapeURL        string            `json:"scrapeUrl"`
	Health           string            `json:"health"`
	LastError        string            `json:"lastError"`
}

func activeTargets(ctx context.Context, api, pool string) ([]target, error) {
	var resp struct {
		Data struct {
			ActiveTargets []target `json:"activeTargets"`
		} `json:"data"`
	}
	err := get(ctx, api+"/api/v1/targets?state=active&scrapePool="+url.QueryEscape(pool), &resp)
	return resp.Data.ActiveTargets, err
}

// waitTargets polls until the pool's active targets are exactly want
// (address → pod label), with a deadline.
func waitTargets(ctx context.Context, t *testing.T, api, pool string, want map[string]string) {
	t.Helper()
	var got map[string]string
	deadline := time.Now().Add(time.Minute)
	for {
		ts, err := activeTargets(ctx, api, pool)
		got = map[string]string{}
		for _, tg := range ts {
			got[tg.Labels["instance"]] = tg.Labels["pod"]
		}
		if err == nil && fmt.Sprint(got) == fmt.Sprint(want) {
			t.Logf("%s: %d targets as expected", pool, len(want))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s targets: got %v (%v), want exactly %v", pool, got, err, want)
		}
		time.Sleep(250 * time.Millisecond) // polling a real process
	}
}

// checkEngineTargets checks what the annotations set on the engine
// targets: path, namespace and pod labels.
func checkEngineTargets(ctx context.Context, t *testing.T, api string) {
	t.Helper()
	ts, err := activeTargets(ctx, api, "servescope-engines")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"vllm-alpha":  "http://" + podIPPrefix + "11:8000/metrics",
		"sglang-beta": "http://" + podIPPrefix + "12:30000/custom",
	}
	for _, tg := range ts {
		if u := want[tg.Labels["pod"]]; tg.ScrapeURL != u {
			t.Errorf("target of pod %s: scrape URL %q, want %q", tg.Labels["pod"], tg.ScrapeURL, u)
		}
		if tg.Labels["namespace"] == "" || tg.Labels["job"] != "servescope-engines" {
			t.Errorf("target %s: labels %v", tg.ScrapeURL, tg.Labels)
		}
	}
	ksm, err := activeTargets(ctx, api, "kube-state-metrics")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(ksm) != 1 || ksm[0].Health != "up" {
		if time.Now().After(deadline) {
			t.Fatalf("kube-state-metrics target not up: %+v", ksm)
		}
		time.Sleep(250 * time.Millisecond) // polling a real process
		if ksm, err = activeTargets(ctx, api, "kube-state-metrics"); err != nil {
			t.Fatal(err)
		}
	}
}

type sample struct {
	Metric map[string]string `json:"metric"`
}

func query(ctx context.Context, api, q string) ([]sample, error) {
	var resp struct {
		Data struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	err := get(ctx, api+"/api/v1/query?query="+url.QueryEscape(q), &resp)
	return resp.Data.Result, err
}

// waitQuery polls until q returns n series.
func waitQuery(ctx context.Context, t *testing.T, api, q string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := query(ctx, api, q)
		if err == nil && len(res) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d series (%v), want %d", q, len(res), err, n)
		}
		time.Sleep(250 * time.Millisecond) // polling a real process
	}
}

// waitSeries polls until the recorded series name holds exactly the
// series whose labels include each of want.
func waitSeries(ctx context.Context, t *testing.T, api, name string, want []map[string]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := query(ctx, api, name)
		if err == nil && len(res) == len(want) && matchAll(res, want) {
			t.Logf("%s: %v", name, want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v (%v), want %v", name, res, err, want)
		}
		time.Sleep(250 * time.Millisecond) // polling a real process
	}
}

func matchAll(res []sample, want []map[string]string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(res, func(s sample) bool {
			for k, v := range w {
				if s.Metric[k] != v {
					return false
				}
			}
			return true
		}) {
			return false
		}
	}
	return true
}

// costByTeam returns the allocated GPU-hours per team over window
// (START,END) from api's /api/v1/costs at a 5 s resolution.
func costByTeam(ctx context.Context, api, window string) (map[string]float64, error) {
	var resp struct {
		Data struct {
			Sets []struct {
				Allocations []struct {
					Name              string  `json:"name"`
					AllocatedGPUHours float64 `json:"allocatedGpuHours"`
				} `json:"allocations"`
			} `json:"sets"`
		} `json:"data"`
	}
	err := get(ctx, api+"/api/v1/costs?aggregate=team&resolution=5s&window="+url.QueryEscape(window), &resp)
	got := map[string]float64{}
	for _, s := range resp.Data.Sets {
		for _, a := range s.Allocations {
			got[a.Name] += a.AllocatedGPUHours
		}
	}
	return got, err
}

// checkCostTeams polls /api/v1/costs by team over the time since begin
// until both teams have allocated GPU-hours, then checks the split: alpha
// holds 1 GPU, beta 2, over the same time. It returns the window and the
// hours per team.
func checkCostTeams(ctx context.Context, t *testing.T, api string, begin time.Time) (string, map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		// A window of at least two minutes; the earlier part, before the
		// data, counts nothing.
		window := begin.Add(-2*time.Minute).UTC().Format(time.RFC3339) + "," + time.Now().UTC().Format(time.RFC3339)
		got, err := costByTeam(ctx, api, window)
		// 20 s of allocation at least, so one step at each edge weighs little.
		if a, b := got["alpha"], got["beta"]; err == nil && a*3600 >= 20 && b > 0 {
			names := slices.Sorted(maps.Keys(got))
			if !slices.Equal(names, []string{"alpha", "beta"}) {
				t.Errorf("cost teams %v, want alpha and beta", names)
			}
			if r := b / a; math.Abs(r-2) > 0.2 {
				t.Errorf("beta/alpha allocated GPU-hours %.3f (%.5f / %.5f), want 2 (2 GPUs against 1)", r, b, a)
			}
			t.Logf("cost by team: alpha %.5f, beta %.5f allocated GPU-hours", a, b)
			return window, got
		}
		if time.Now().After(deadline) {
			t.Fatalf("cost by team: %v (%v), want alpha and beta allocated", got, err)
		}
		time.Sleep(time.Second) // polling a real process
	}
}

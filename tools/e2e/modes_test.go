package e2e

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// checkCentral installs the chart in external mode over api (the running
// embedded servescope, a Prometheus-compatible API like Thanos query),
// runs the installed Deployment's command line and config, and compares
// its cost by team over window with want.
func checkCentral(ctx context.Context, t *testing.T, c *cluster, ch *chart.Chart, dir, bin, api, window string, want map[string]float64) {
	t.Helper()
	const release = "servescope-central-sd"
	if err := c.helmInstall(ctx, ch, release, release, map[string]any{"mode": "external", "externalPrometheus": map[string]any{"url": api}}); err != nil {
		t.Fatalf("helm install %s: %v", release, err)
	}
	admin, err := kubernetes.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	central := runChartDeployment(ctx, t, admin, filepath.Join(dir, "central"), bin, release, "")
	got, err := costByTeam(ctx, central, window)
	if err != nil {
		t.Fatalf("central cost: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("central cost teams %v, embedded %v", got, want)
	}
	for team, w := range want {
		if g := got[team]; math.Abs(g-w) > 0.005*w {
			t.Errorf("team %s: central %.6f GPU-hours, embedded %.6f (want within 0.5%%)", team, g, w)
		}
	}
	t.Logf("central (external mode) cost by team: %v", got)
}

// runChartDeployment runs servescope as the chart's Deployment release
// would: its container's arguments and plain environment, its ConfigMap's
// servescope.yml (discovery through kubeconfig when not empty), with the
// config path, storage path and listen address moved to dir and a free
// loopback port. It returns the API's base URL.
func runChartDeployment(ctx context.Context, t *testing.T, admin kubernetes.Interface, dir, bin, release, kubeconfig string) string {
	t.Helper()
	dep, err := admin.AppsV1().Deployments(release).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := admin.CoreV1().ConfigMaps(release).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "servescope.yml")
	writeServescopeConfig(t, cfgFile, cm.Data["servescope.yml"], kubeconfig)
	addr := freeAddr(t)
	container := dep.Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range container.Args {
		switch name, _, _ := strings.Cut(a, "="); name {
		case "--config":
			a = "--config=" + cfgFile
		case "--storage.path":
			a = "--storage.path=" + filepath.Join(dir, "data")
		case "--web.listen-address":
			a = "--web.listen-address=" + addr
		}
		args = append(args, a)
	}
	var env []string
	for _, e := range container.Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	api := "http://" + addr
	startEnv(ctx, t, dir, release, bin, api+"/-/ready", env, args...)
	t.Logf("%s running: %v %v", release, env, args)
	return api
}

// agentFlag is how kingpin lists a --agent flag in the help.
var agentFlag = regexp.MustCompile(`--(\[no-\])?agent\b`)

// checkAgent installs the chart in agent mode (cluster e2e-1) writing to
// a receiver (Debian's Prometheus with its remote-write receiver), runs
// the installed Deployment (`serve --agent`) as the release's own
// ServiceAccount with the chart's config, and checks that the receiver
// holds the real kube_pod_labels with the cluster label. It logs why and
// returns while the binary has no --agent or Prometheus is absent.
func checkAgent(ctx context.Context, t *testing.T, c *cluster, ch *chart.Chart, dir, bin string) {
	t.Helper()
	if help, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput(); !agentFlag.Match(help) {
		t.Log("agent mode not run: this servescope has no `serve --agent`")
		return
	}
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Log("agent mode not run: no prometheus for the receiver (Debian: apt-get install prometheus)")
		return
	}
	rdir := filepath.Join(dir, "receiver")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rdir, "prometheus.yml"), []byte("global: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	raddr := freeAddr(t)
	receiver := "http://" + raddr
	start(ctx, t, rdir, "receiver", prom, receiver+"/-/ready", "--config.file="+filepath.Join(rdir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(rdir, "data"), "--web.listen-address="+raddr, "--web.enable-remote-write-receiver")

	const release = "servescope-agent-sd"
	values := map[string]any{"mode": "agent", "externalLabels": map[string]any{"cluster": "e2e-1"},
		"agent": map[string]any{"remoteWrite": map[string]any{"url": receiver + "/api/v1/write"}}}
	if err := c.helmInstall(ctx, ch, release, release, values); err != nil {
		t.Fatalf("helm install %s: %v", release, err)
	}
	admin, err := kubernetes.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := serviceAccountKubeconfig(ctx, t, c, admin, dir, release)
	runChartDeployment(ctx, t, admin, filepath.Join(dir, "agent"), bin, release, kubeconfig)
	waitQuery(ctx, t, receiver, `kube_pod_labels{cluster="e2e-1",namespace="e2e-shared",pod="sglang-beta",label_team="beta"}`, 1)
	t.Log("agent: the receiver holds kube_pod_labels with cluster=e2e-1")
}

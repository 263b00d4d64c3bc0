package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
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

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"
)

// Environment set by scripts/e2e.sh.
const (
	envKubeconfig = "SERVESCOPE_E2E_KUBECONFIG" // admin kubeconfig of the API server
	envCRDs       = "SERVESCOPE_E2E_CRDS"       // directories of CRD files, colon-separated
	envBinary     = "SERVESCOPE_E2E_BINARY"     // servescope binary running `generate`
)

const fieldManager = "servescope-e2e"

type cluster struct {
	cfg        *rest.Config
	dyn        dynamic.Interface
	mapper     *restmapper.DeferredDiscoveryRESTMapper
	kubeconfig string
}

func connect(t *testing.T) *cluster {
	t.Helper()
	kc := os.Getenv(envKubeconfig)
	if kc == "" {
		t.Skip(envKubeconfig + " not set: run `make e2e`")
	}
	return connectTo(t, kc)
}

// connectTo connects with the kubeconfig kc.
func connectTo(t *testing.T, kc string) *cluster {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", kc, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{cfg: cfg, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), kubeconfig: kc}
}

// apply applies one document server-side with strict field validation, as
// `kubectl apply --server-side --validate=strict` does.
func (c *cluster) apply(ctx context.Context, doc []byte) (*unstructured.Unstructured, error) {
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	return ri.Patch(ctx, u.GetName(), types.ApplyPatchType, js, metav1.PatchOptions{
		FieldManager: fieldManager, Force: new(true), FieldValidation: "Strict",
	})
}

// applyFile applies every document of a file, naming the file and
// document in errors.
func (c *cluster) applyFile(ctx context.Context, path string) (int, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for i, doc := range bytes.Split(content, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		if _, err := c.apply(ctx, doc); err != nil {
			errs = append(errs, fmt.Errorf("%s document %d: %w", path, i+1, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// ensureNamespaces creates namespaces (a fresh API server has none of the
// stack's).
func (c *cluster) ensureNamespaces(ctx context.Context, t *testing.T, names ...string) {
	t.Helper()
	for _, ns := range names {
		if _, err := c.apply(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n")); err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
	}
}

// installCRDs applies every CRD file and waits, polling with a deadline,
// until each is established; then the mapper forgets its discovery cache.
func (c *cluster) installCRDs(ctx context.Context, t *testing.T) {
	t.Helper()
	dirs := strings.Split(os.Getenv(envCRDs), ":")
	if os.Getenv(envCRDs) == "" {
		t.Fatal(envCRDs + " not set")
	}
	var names []string
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no CRD files in %s (%v)", dir, err)
		}
		for _, f := range files {
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range bytes.Split(content, []byte("\n---\n")) {
				if len(bytes.TrimSpace(stripComments(doc))) == 0 {
					continue
				}
				u, err := c.apply(ctx, doc)
				if err != nil {
					t.Fatalf("CRD %s: %v", f, err)
				}
				names = append(names, u.GetName())
			}
		}
	}
	crds := c.dyn.Resource(apiextensionsCRDs)
	deadline := time.Now().Add(2 * time.Minute)
	for _, name := range names {
		for {
			u, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(u) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established within 2m (%v)", name, err)
			}
			time.Sleep(200 * time.Millisecond) // polling a real server, not letting time pass
		}
	}
	c.mapper.Reset()
	t.Logf("%d CRDs established", len(names))
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// TestGeneratedStackApplies runs `servescope generate` with the example
// teams file and applies every generated manifest (monitors,
// PrometheusRule, Kueue flavors, queues and namespaces) to the API server
// with strict server-side validation; the pod-annotation patches are
// applied to a Deployment as `kubectl patch` would.
func TestGeneratedStackApplies(t *testing.T) {
	c := connect(t)
	ctx := t.Context()
	c.installCRDs(ctx, t)
	bin := os.Getenv(envBinary)
	if bin == "" {
		t.Fatal(envBinary + " not set")
	}
	out := t.TempDir()
	if b, err := exec.CommandContext(ctx, bin, "generate", "--out", out, "--teams", "../../examples/teams.yml").CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, b)
	}
	c.ensureNamespaces(ctx, t, "monitoring", "gpu-operator", "kueue-system")
	var files []string
	for _, dir := range []string{"kubernetes/monitors", "kubernetes", "kueue", "kueue/teams"} {
		m, _ := filepath.Glob(filepath.Join(out, dir, "*.yaml"))
		files = append(files, m...)
	}
	// Namespaces (in the team files) before the LocalQueues in them:
	// apply the team files twice, the first pass may miss namespaces.
	total := 0
	for _, f := range files {
		if strings.HasSuffix(f, "controller-manager-config.yaml") {
			continue // Kueue's component configuration, not an API object
		}
		n, err := c.applyFile(ctx, f)
		if err != nil && strings.Contains(f, "/teams/") {
			n, err = c.applyFile(ctx, f)
		}
		if err != nil {
			t.Error(err)
		}
		total += n
	}
	if total < 15 {
		t.Errorf("applied %d objects, want every generated manifest", total)
	}
	t.Logf("applied %d generated objects", total)
	// The server's strict validation is on: a misspelt field is refused.
	bad := "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: bad, namespace: monitoring}\nspec:\n  selector: {}\n  endpoints:\n  - port: http\n    honourLabels: true\n"
	if _, err := c.apply(ctx, []byte(bad)); err == nil || !strings.Contains(err.Error(), "honourLabels") {
		t.Errorf("misspelt field accepted by the API server: %v", err)
	}
}

// helmInstall installs the chart as release in namespace ns (created)
// with Helm's Go SDK, waiting only for hooks: without a kubelet nothing
// becomes ready.
func (c *cluster) helmInstall(ctx context.Context, ch *chart.Chart, release, ns string, values map[string]any) error {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.kubeconfig
	flags.Namespace = &ns
	cfg := action.NewConfiguration()
	cfg.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler())
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		return err
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace, inst.CreateNamespace = release, ns, true
	inst.WaitStrategy = kube.HookOnlyStrategy
	_, err := inst.RunWithContext(ctx, ch, values)
	return err
}

// TestChartInstalls installs the chart with Helm's Go SDK in each mode —
// embedded, external (the central servescope over the store) and agent
// (one per cluster, remote-writing with a bearer token from a Secret) — on
// the API server with the operator's CRDs installed, and checks what each
// mode creates: the Deployment, a Service and ServiceMonitor (a PodMonitor
// and no Service for an agent), a claim where samples or the WAL are kept.
func TestChartInstalls(t *testing.T) {
	c := connect(t)
	ctx := t.Context()
	c.installCRDs(ctx, t)
	ch, err := loader.Load("../../deploy/helm/servescope")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		release string
		values  map[string]any
		agent   bool
		claim   bool
	}{
		{release: "servescope", claim: true},
		{release: "servescope-external", values: map[string]any{"externalPrometheus": map[string]any{"enabled": true, "url": "http://prometheus-operated.monitoring:9090"}}},
		{release: "servescope-central", values: map[string]any{"mode": "external", "externalPrometheus": map[string]any{"url": "http://thanos-query.monitoring:9090"}}},
		{release: "servescope-agent", agent: true, claim: true, values: map[string]any{
			"mode": "agent", "externalLabels": map[string]any{"cluster": "eu-1"},
			"agent": map[string]any{"remoteWrite": map[string]any{"url": "http://thanos-receive.monitoring:19291/api/v1/receive", "bearerToken": map[string]any{"secretName": "remote-write"}}},
		}},
	} {
		ns := tc.release
		if err := c.helmInstall(ctx, ch, tc.release, ns, tc.values); err != nil {
			t.Errorf("helm install %s: %v", tc.release, err)
			continue
		}
		dep, err := c.dyn.Resource(deployments).Namespace(ns).Get(ctx, tc.release, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: Deployment not created: %v", tc.release, err)
			continue
		}
		args, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
		t.Logf("%s installed: %v", tc.release, args[0].(map[string]any)["args"])
		for _, o := range []struct {
			what   string
			gvr    schema.GroupVersionResource
			exists bool
		}{
			{"Service", services, !tc.agent},
			{"ServiceMonitor", serviceMonitors, !tc.agent},
			{"PodMonitor", podMonitors, tc.agent},
			{"PersistentVolumeClaim", claims, tc.claim},
		} {
			_, err := c.dyn.Resource(o.gvr).Namespace(ns).Get(ctx, tc.release, metav1.GetOptions{})
			switch {
			case err != nil && !apierrors.IsNotFound(err):
				t.Errorf("%s: %s: %v", tc.release, o.what, err)
			case (err == nil) != o.exists:
				t.Errorf("%s: %s exists: %v, want %v", tc.release, o.what, err == nil, o.exists)
			}
		}
	}
}

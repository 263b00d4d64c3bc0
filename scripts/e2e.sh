#!/usr/bin/env bash
# make e2e: servescope's chart and generated stack against a real Kubernetes
# API server on 127.0.0.1.
#
#   1. kube-apiserver v1.34.2 built from k8s.io/kubernetes in its own module
#      (tools/kube-apiserver; 12-22 minutes on two idle cores, cached in
#      $E2E_CACHE), controller-gen (tools/crdgen) for prometheus-operator's
#      CRDs from the monitoring/v1 types the main module uses;
#   2. Debian's etcd as the store, the API server with a static token file
#      and RBAC authorization, an admin kubeconfig;
#   3. kube-state-metrics v2.20.0 (tools/kube-state-metrics, cached in
#      $E2E_CACHE) for the discovery and kube-state-metrics test;
#   4. tools/e2e: the CRDs (prometheus-operator's generated, Kueue's from
#      its module) and every manifest of `servescope generate` applied
#      server-side with strict field validation, the chart installed with
#      Helm's Go SDK in embedded, external and agent mode; servescope run
#      with the chart's config and the chart's read-only ServiceAccount
#      token, discovering the test's pods and scraping kube-state-metrics.
#
# Everything runs on loopback in a temporary directory removed at the end;
# only the processes started here are stopped.
set -euo pipefail

GO=${GO:-go}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E_CACHE=${E2E_CACHE:-$HOME/.cache/servescope-e2e}
K8S_VERSION=v1.34.2
APISERVER=$E2E_CACHE/kube-apiserver-$K8S_VERSION
CONTROLLER_GEN=$E2E_CACHE/controller-gen
mkdir -p "$E2E_CACHE"

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

command -v etcd >/dev/null || { echo "e2e: etcd not installed (Debian: apt-get install etcd-server)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "e2e: openssl not installed" >&2; exit 1; }

if [ ! -x "$APISERVER" ]; then
  step "building kube-apiserver $K8S_VERSION into $APISERVER (12-22 min on two idle cores)"
  (cd "$ROOT/tools/kube-apiserver" && nice -n 19 "$GO" build -o "$APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$APISERVER.tmp" "$APISERVER"
fi
# --- kube-state-metrics (issue 17: discovery and kube_pod_labels) ---
KSM_VERSION=v2.20.0
KSM=$E2E_CACHE/kube-state-metrics-$KSM_VERSION
build_ksm() {
  [ -x "$KSM" ] && return
  step "building kube-state-metrics $KSM_VERSION into $KSM (3-6 min on two idle cores)"
  (cd "$ROOT/tools/kube-state-metrics" && nice -n 10 "$GO" build -o "$KSM.tmp" k8s.io/kube-state-metrics/v2)
  mv "$KSM.tmp" "$KSM"
}
build_ksm
# --- end kube-state-metrics ---

if [ ! -x "$CONTROLLER_GEN" ]; then
  step "building controller-gen"
  (cd "$ROOT/tools/crdgen" && "$GO" build -o "$CONTROLLER_GEN" sigs.k8s.io/controller-tools/cmd/controller-gen)
fi

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# wait_for URL WHAT PID [CURL ARGS...]: poll until URL answers 200, the
# process exits, or 120 s pass.
wait_for() {
  local url=$1 what=$2 pid=$3; shift 3
  local deadline=$((SECONDS + 120))
  until curl -fsS "$@" "$url" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "e2e: $what exited; log:" >&2; tail -30 "$WORK/$what.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "e2e: $what not ready after 120s; log:" >&2; tail -30 "$WORK/$what.log" >&2; exit 1; }
    sleep 0.5
  done
}

step "prometheus-operator CRDs from monitoring/v1 (controller-gen)"
mkdir -p "$WORK/crds/operator" "$WORK/crds/kueue"
(cd "$ROOT/tools/crdgen" && "$CONTROLLER_GEN" crd:crdVersions=v1,maxDescLen=0,allowDangerousTypes=true \
  paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 \
  output:crd:dir="$WORK/crds/operator")
KUEUE_DIR=$(cd "$ROOT" && "$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kueue)
for c in clusterqueues localqueues resourceflavors cohorts workloads; do
  cp "$KUEUE_DIR/config/components/crd/bases/kueue.x-k8s.io_$c.yaml" "$WORK/crds/kueue/"
done
chmod u+w "$WORK"/crds/kueue/*.yaml
ls "$WORK"/crds/*

step "etcd"
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$ETCD_PORT/health" etcd "${PIDS[-1]}"

step "kube-apiserver $K8S_VERSION (token file, RBAC)"
TOKEN=$(openssl rand -hex 24)
echo "$TOKEN,e2e-admin,e2e-admin,system:masters" >"$WORK/tokens.csv"
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
API_PORT=$(free_port)
"$APISERVER" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$WORK/certs" \
  --token-auth-file "$WORK/tokens.csv" --authorization-mode RBAC --anonymous-auth=false \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$WORK/sa.key" \
  --service-account-signing-key-file "$WORK/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  --enable-priority-and-fairness=false --storage-media-type application/json \
  >"$WORK/kube-apiserver.log" 2>&1 &
PIDS+=($!)
wait_for "https://127.0.0.1:$API_PORT/readyz" kube-apiserver "${PIDS[-1]}" -k -H "Authorization: Bearer $TOKEN"

cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:$API_PORT", insecure-skip-tls-verify: true}
users:
- name: e2e-admin
  user: {token: "$TOKEN"}
contexts:
- name: e2e
  context: {cluster: e2e, user: e2e-admin}
current-context: e2e
EOF

step "servescope binary"
"$GO" build -C "$ROOT" -o "$WORK/servescope" ./cmd/servescope

step "tools/e2e: generated stack and chart against the API server"
export SERVESCOPE_E2E_KUBECONFIG="$WORK/kubeconfig"
export SERVESCOPE_E2E_CRDS="$WORK/crds/operator:$WORK/crds/kueue"
export SERVESCOPE_E2E_BINARY="$WORK/servescope"
export SERVESCOPE_E2E_KSM="$KSM"
(cd "$ROOT/tools/e2e" && "$GO" test -count=1 -v -timeout 20m ./...)
step "e2e passed"

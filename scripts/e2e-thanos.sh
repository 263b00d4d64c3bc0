#!/usr/bin/env bash
# make e2e, Thanos part: servescope on a real distributed backend.
#
#   1. Thanos v0.42.4 built from tools/thanos with -tags slicelabels (10-16
#      min on two idle cores, cached in $E2E_CACHE);
#   2. two simulated clusters (`servescope sim`, the healthy scenario renamed
#      per cluster so no name is shared), each scraped by `servescope serve
#      --agent` with external label cluster=a or cluster=b, remote-writing
#      to `thanos receive`; `thanos query` over receive's StoreAPI;
#   3. a servescope in external mode (--query.remote-url at thanos query);
#   4. after $E2E_THANOS_MINUTES minutes the agents stop (sending what they
#      hold), `cost` and `diagnose` over one window read the external
#      servescope; receive stops (flushing its TSDB), and an embedded
#      servescope opens a copy of receive's TSDB: the same samples, so the
#      same figures within 0.5% (scripts/e2e-compare.py says what it
#      compared). A servescope scraping the clusters itself would see them
#      at other instants: its used GPU-hours differ by about 1% per team.
#
# Everything runs on loopback in a temporary directory removed at the end
# ($E2E_KEEP=1 keeps it); only the processes started here are stopped.
set -euo pipefail

GO=${GO:-go}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E_CACHE=${E2E_CACHE:-$HOME/.cache/servescope-e2e}
THANOS_VERSION=v0.42.4
THANOS=$E2E_CACHE/thanos-$THANOS_VERSION
MINUTES=${E2E_THANOS_MINUTES:-4} # of data; the window compared is the last whole minutes of it
INTERVAL=5 # scrape interval, seconds
mkdir -p "$E2E_CACHE"

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [ ! -x "$THANOS" ]; then
  step "building thanos $THANOS_VERSION into $THANOS (10-16 min on two idle cores)"
  # -mod=mod: go.sum keeps the command's own dependencies, which a tidy
  # (that sees only tools.go) would drop.
  (cd "$ROOT/tools/thanos" && nice -n 10 "$GO" build -mod=mod -tags slicelabels -o "$THANOS.tmp" github.com/thanos-io/thanos/cmd/thanos)
  mv "$THANOS.tmp" "$THANOS"
fi

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# run NAME CMD...: start CMD in the background, logging to $WORK/NAME.log.
declare -A PID
run() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  PID[$name]=$!
}

# stop NAME: stop a process started by run and wait for it to exit.
stop() {
  kill "${PID[$1]}"
  wait "${PID[$1]}" || true
}

# wait_for URL WHAT: poll until URL answers 200, the last process started
# exits, or 120 s pass.
wait_for() {
  local url=$1 what=$2 pid=${PIDS[-1]}
  local deadline=$((SECONDS + 120))
  until curl -fsS "$url" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "e2e: $what exited; log:" >&2; tail -30 "$WORK/$what.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "e2e: $what not ready after 120s; log:" >&2; tail -30 "$WORK/$what.log" >&2; exit 1; }
    sleep 0.5
  done
}

step "servescope binary"
SS=$WORK/servescope
"$GO" build -C "$ROOT" -o "$SS" ./cmd/servescope

# scrape_jobs CLUSTER: the scrape configs of one simulated cluster (as
# scripts/demo.sh has them).
scrape_jobs() {
  local c=$1
  cat <<YML
  - job_name: sim-honor-$c
    honor_labels: true
    file_sd_configs: [{files: ['$WORK/targets-$c.json'], refresh_interval: 5s}]
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}
  - job_name: sim-$c
    honor_labels: false
    file_sd_configs: [{files: ['$WORK/targets-$c.json'], refresh_interval: 5s}]
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}
YML
}

step "two simulated clusters (a, b)"
seed=1
for c in a b; do
  # Every team, queue, cohort, flavor (so node) and deployment name gets
  # the cluster's suffix: two real clusters share no pod or node.
  sed -e "s/\bchat\b/chat-$c/g; s/\bsearch\b/search-$c/g; s/chat-llama/chat-$c-llama/g" \
    -e "s/search-llama/search-$c-llama/g; s/\bh100\b/h100$c/g; s/cohort: serving/cohort: serving-$c/" \
    -e "s/^name: healthy/name: cluster-$c/" "$ROOT/examples/scenarios/healthy.yml" >"$WORK/cluster-$c.yml"
  port=$(free_port)
  run "sim-$c" "$SS" sim --scenario "$WORK/cluster-$c.yml" --seed $seed --listen "127.0.0.1:$port" --file-sd "$WORK/targets-$c.json"
  wait_for "http://127.0.0.1:$port/truth" "sim-$c"
  seed=$((seed + 1))
done

step "thanos receive and query"
RECV_HTTP=$(free_port); RECV_GRPC=$(free_port); RECV_RW=$(free_port)
run receive "$THANOS" receive --tsdb.path "$WORK/receive" --tsdb.retention 1d \
  --http-address "127.0.0.1:$RECV_HTTP" --grpc-address "127.0.0.1:$RECV_GRPC" \
  --remote-write.address "127.0.0.1:$RECV_RW" --label 'replica="r0"'
wait_for "http://127.0.0.1:$RECV_HTTP/-/ready" receive
QUERY_HTTP=$(free_port); QUERY_GRPC=$(free_port)
run query "$THANOS" query --http-address "127.0.0.1:$QUERY_HTTP" --grpc-address "127.0.0.1:$QUERY_GRPC" \
  --endpoint "127.0.0.1:$RECV_GRPC" --query.replica-label replica
wait_for "http://127.0.0.1:$QUERY_HTTP/-/ready" query

step "servescope --agent per cluster, remote-writing to receive"
for c in a b; do
  cat >"$WORK/agent-$c.yml" <<YML
global:
  scrape_interval: ${INTERVAL}s
  scrape_timeout: ${INTERVAL}s
  external_labels: {cluster: $c}
scrape_configs:
$(scrape_jobs $c)
remote_write:
  - url: http://127.0.0.1:$RECV_RW/api/v1/receive
YML
  port=$(free_port)
  run "agent-$c" "$SS" serve --agent --config "$WORK/agent-$c.yml" --storage.path "$WORK/agent-$c" --web.listen-address "127.0.0.1:$port"
  wait_for "http://127.0.0.1:$port/-/ready" "agent-$c"
  eval "AGENT_${c}=127.0.0.1:$port"
done

step "servescope in external mode reading thanos query"
printf 'global: {scrape_interval: %ss}\nservescope: {price_book: %s}\n' "$INTERVAL" "$ROOT/examples/scenarios/prices.yml" >"$WORK/external.yml"
EXT=127.0.0.1:$(free_port)
run external "$SS" serve --config "$WORK/external.yml" --storage.path "$WORK/external" --web.listen-address "$EXT" \
  --query.remote-url "http://127.0.0.1:$QUERY_HTTP"
wait_for "http://$EXT/-/ready" external
START=$(($(date +%s) + 30))

step "collecting $MINUTES minutes of both clusters"
sleep $((MINUTES * 60 + 30))
END=$(($(date +%s) - 20)) # remote write is seconds behind
END=$((END - (END - START) % 60))
for c in a b; do
  a=$(eval echo "\$AGENT_$c")
  echo "agent-$c: $(curl -fsS "http://$a/metrics" | grep -E '^prometheus_remote_storage_(samples_total|samples_failed_total|bytes_total|shards)\{' | tr '\n' ' ')"
done

step "agents stop, sending what they hold"
stop agent-a
stop agent-b

printf 'servescope: {price_book: %s}\n' "$ROOT/examples/scenarios/prices.yml" >"$WORK/settings.yml"
# figures SIDE SERVER: cost and diagnose over [START, END] as JSON.
figures() {
  "$SS" cost --server "http://$2" --config "$WORK/settings.yml" --window "$START,$END" --resolution 15s --output json >"$WORK/cost-$1.json"
  "$SS" diagnose --server "http://$2" --config "$WORK/settings.yml" --since "$((END - START))s" --at "$END" --output json >"$WORK/diagnose-$1.json"
}
step "cost and diagnose over $START..$END through thanos query (external mode)"
figures external "$EXT"

step "receive stops (flushing its TSDB); an embedded servescope opens a copy of it"
stop receive
cp -r "$WORK/receive/default-tenant" "$WORK/embedded"
rm -f "$WORK/embedded/lock"
printf 'global: {scrape_interval: %ss}\nservescope: {price_book: %s}\n' "$INTERVAL" "$ROOT/examples/scenarios/prices.yml" >"$WORK/embedded.yml"
EMB=127.0.0.1:$(free_port)
run embedded "$SS" serve --config "$WORK/embedded.yml" --storage.path "$WORK/embedded" --web.listen-address "$EMB"
wait_for "http://$EMB/-/ready" embedded
step "cost and diagnose over $START..$END in the embedded store"
figures embedded "$EMB"
python3 "$ROOT/scripts/e2e-compare.py" "$WORK" 0.005
step "e2e thanos passed"

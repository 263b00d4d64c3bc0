#!/usr/bin/env bash
# bench-fleet.sh [BINARY]: `servescope serve` alone on a large simulated
# fleet, for BENCHMARKS.md (issue 20): head series, CPU cores and RSS after a
# warm-up, then each dashboard page twice (cold, then warm).
#
# One `servescope sim` ($SCENARIO, $GPUS GPUs, real time) is scraped every
# $INTERVAL by one `servescope serve` (the jobs of bench-agent.sh). After
# $WARMUP seconds, CPU seconds are read from /proc/<pid>/stat, again after
# $SECONDS_MEASURED more; then head series, RSS and the pages' times.
# Everything runs on loopback in a temporary directory removed at the end;
# only the processes started here are stopped.
#
# WARM_ROUNDS (default 1): how many times each page is loaded warm after its
# cold load, every page once per round. PROFILE_DIR: when set, a 30 s CPU
# profile over the warm rounds, a heap profile after them and /api/v1/rules
# (each rule's last evaluation time) are written there; RSS after the pages
# is printed either way.
#
# LIMIT_CPUS and LIMIT_MEMORY (e.g. 1 and 4G, root only): `serve` runs in a
# cgroup of its own with that CPU quota and memory limit, as a pod with
# those limits would (Go sizes GOMAXPROCS from the quota, --auto-gomemlimit
# GOMEMLIMIT from the limit); the cgroup's throttling and OOM counts are
# printed. cgroup v1 (cpu and memory controllers) or v2.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-healthy}
GPUS=${GPUS:-10000}
INTERVAL=${INTERVAL:-15s}
WARMUP=${WARMUP:-150}
MEASURE=${SECONDS_MEASURED:-60}
WARM_ROUNDS=${WARM_ROUNDS:-1}
PROFILE_DIR=${PROFILE_DIR:-}
LIMIT_CPUS=${LIMIT_CPUS:-}
LIMIT_MEMORY=${LIMIT_MEMORY:-}

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wait_for() {
  local deadline=$((SECONDS + 600))
  until curl -fsS "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "bench-fleet: $1 not ready" >&2; exit 1; }
    sleep 0.5
  done
}
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, in ticks

SS=${1:-}
if [ -z "$SS" ]; then
  SS=$WORK/servescope
  go build -C "$ROOT" -o "$SS" ./cmd/servescope
fi

SIM=127.0.0.1:$(free_port)
"$SS" sim --scenario "$SCENARIO" --gpus "$GPUS" --listen "$SIM" --file-sd "$WORK/targets.json" --log.level error >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_for "http://$SIM/truth"

cat >"$WORK/serve.yml" <<YML
global: {scrape_interval: $INTERVAL, scrape_timeout: 10s, evaluation_interval: $INTERVAL}
scrape_configs:
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs: [{files: ['$WORK/targets.json']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}]
  - job_name: sim
    honor_labels: false
    file_sd_configs: [{files: ['$WORK/targets.json']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}]
YML
# limits makes the cgroups LIMIT_CPUS and LIMIT_MEMORY ask for and adds
# their directories to CGROUPS; cgroup_stats prints what they counted.
CGROUPS=()
limits() {
  local name=servescope-bench-$$ d
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    d=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)/$name
    mkdir -p "$d"
    [ -z "$LIMIT_CPUS" ] || echo "$(awk -v c="$LIMIT_CPUS" 'BEGIN { printf "%d", c * 100000 }') 100000" >"$d/cpu.max"
    [ -z "$LIMIT_MEMORY" ] || echo "$LIMIT_MEMORY" >"$d/memory.max"
    CGROUPS+=("$d")
    return
  fi
  if [ -n "$LIMIT_CPUS" ]; then
    d=/sys/fs/cgroup/cpu$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup)/$name
    mkdir -p "$d"
    echo 100000 >"$d/cpu.cfs_period_us"
    awk -v c="$LIMIT_CPUS" 'BEGIN { printf "%d\n", c * 100000 }' >"$d/cpu.cfs_quota_us"
    CGROUPS+=("$d")
  fi
  if [ -n "$LIMIT_MEMORY" ]; then
    d=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)/$name
    mkdir -p "$d"
    echo "$LIMIT_MEMORY" >"$d/memory.limit_in_bytes"
    CGROUPS+=("$d")
  fi
}
cgroup_stats() {
  local d
  for d in "${CGROUPS[@]}"; do
    for f in cpu.stat memory.events memory.failcnt memory.max_usage_in_bytes memory.oom_control; do
      [ -f "$d/$f" ] && echo "cgroup $f: $(tr '\n' ' ' <"$d/$f")"
    done
  done
  return 0
}
PREFIX=()
if [ -n "$LIMIT_CPUS$LIMIT_MEMORY" ]; then
  limits
  # The shell moves itself into the cgroups, then becomes serve.
  PREFIX=(sh -c 'for d in "$@"; do [ "$d" = -- ] && break; echo $$ >"$d/cgroup.procs"; done; while [ "$1" != -- ]; do shift; done; shift; exec "$@"' limits "${CGROUPS[@]}" --)
  trap 'cleanup; for d in "${CGROUPS[@]}"; do rmdir "$d" 2>/dev/null || true; done' EXIT
fi

ADDR=127.0.0.1:$(free_port)
"${PREFIX[@]}" "$SS" serve --config "$WORK/serve.yml" --storage.path "$WORK/data" --web.listen-address "$ADDR" --log.level error ${PROFILE_DIR:+--web.enable-pprof} >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
PID=$!
wait_for "http://$ADDR/-/ready"
echo "servescope serve: $GPUS GPUs ($SCENARIO), $(grep -o '"targets"' "$WORK/targets.json" | wc -l) target groups, scrape and rules every $INTERVAL; warming up ${WARMUP}s"
sleep "$WARMUP"
c0=$(cpu $PID)
sleep "$MEASURE"
c1=$(cpu $PID)
series=$(curl -fsS "http://$ADDR/api/v1/status/tsdb" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["headStats"]["numSeries"])')
missed=$(curl -fsS "http://$ADDR/metrics" | awk '$1 ~ /^prometheus_rule_group_iterations_missed_total/ { s += $NF } END { print s + 0 }')
rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$PID/status")
hwm=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$PID/status")
echo "head series: $series; CPU: $(echo "$c0 $c1 $MEASURE" | awk '{ printf "%.2f", ($2 - $1) / 100 / $3 }') cores over ${MEASURE}s; RSS $rss MiB (peak $hwm MiB); rule iterations missed: $missed"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$LIMIT_CPUS$LIMIT_MEMORY" ] || { echo "limits: ${LIMIT_CPUS:-no} CPUs, ${LIMIT_MEMORY:-no} memory; runtime $(curl -fsS "http://$ADDR/api/v1/status/runtimeinfo" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print("GOMAXPROCS", d["GOMAXPROCS"], "GOMEMLIMIT", d["GOMEMLIMIT"])')"; cgroup_stats; }
PAGES=(/ /serving /gpus /queues /findings)
# qstats prints servescope's counts of dashboard queries: the result
# cache's answers by kind, the engine's evaluations and their seconds,
# and the seconds the rule manager waited for pages in progress.
qstats() {
  curl -fsS "http://$ADDR/metrics" | awk '
    $1 ~ /^servescope_query_cache_requests_total/ { match($1, /result="[a-z]+"/); c[substr($1, RSTART + 8, RLENGTH - 9)] = $2 }
    $1 ~ /^servescope_query_duration_seconds_count/ { n += $2 }
    $1 ~ /^servescope_query_duration_seconds_sum/ { s += $2 }
    $1 == "servescope_rule_yield_seconds_total" { y = $2 }
    END { printf "%d %d %d %d %d %.3f %.3f", c["hit"], c["coalesced"], c["partial"], c["miss"], n, s, y }'
}
# load prints a page's time and, from qstats before and after, what its
# queries cost: cache hits, coalesced, partial and missed, then the
# engine's evaluations and seconds (the background diagnosis counts too),
# and how long the rules waited for it.
load() {
  local a b t
  a=$(qstats)
  t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://$ADDR$1")
  b=$(qstats)
  echo "$a $b" | awk -v t="$t" '{ printf "%ss (hit %d, coalesced %d, partial %d, miss %d; engine %d queries, %.2fs; rules waited %.2fs)", t, $8-$1, $9-$2, $10-$3, $11-$4, $12-$5, $13-$6, $14-$7 }'
}
for page in "${PAGES[@]}"; do
  echo "page $page: cold $(load "$page")"
done
if [ -n "$PROFILE_DIR" ]; then
  mkdir -p "$PROFILE_DIR"
  curl -fsS -o "$PROFILE_DIR/cpu.pprof" "http://$ADDR/debug/pprof/profile?seconds=30" &
  prof=$!
fi
for round in $(seq "$WARM_ROUNDS"); do
  for page in "${PAGES[@]}"; do
    echo "page $page: warm ($round) $(load "$page")"
  done
  [ "$round" = "$WARM_ROUNDS" ] || sleep 5
done
if [ -n "$PROFILE_DIR" ]; then
  wait "$prof"
  curl -fsS -o "$PROFILE_DIR/heap.pprof" "http://$ADDR/debug/pprof/heap"
  curl -fsS -o "$PROFILE_DIR/rules.json" "http://$ADDR/api/v1/rules"
fi
[ -z "$LIMIT_CPUS$LIMIT_MEMORY" ] || cgroup_stats
curl -fsS "http://$ADDR/metrics" | awk '
  $1 ~ /^prometheus_rule_group_iterations_missed_total/ { missed += $NF }
  $1 == "servescope_rule_yield_seconds_total" { waited = $2 }
  END { printf "rule iterations missed: %d; rules waited for pages: %.2f s\n", missed, waited }'
echo "queries refused: $(curl -fsS "http://$ADDR/metrics" | awk '$1 ~ /^servescope_queries_refused_total/ { printf "%s %s; ", $1, $2 }')"
echo "after the pages: RSS $(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$PID/status") MiB (peak $(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$PID/status") MiB)"

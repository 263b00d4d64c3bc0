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
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-healthy}
GPUS=${GPUS:-10000}
INTERVAL=${INTERVAL:-15s}
WARMUP=${WARMUP:-150}
MEASURE=${SECONDS_MEASURED:-60}

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
ADDR=127.0.0.1:$(free_port)
"$SS" serve --config "$WORK/serve.yml" --storage.path "$WORK/data" --web.listen-address "$ADDR" --log.level error >"$WORK/serve.log" 2>&1 &
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
for page in / /serving /gpus /queues /findings; do
  cold=$(curl -fsS -o /dev/null -w '%{time_total}' "http://$ADDR$page")
  warm=$(curl -fsS -o /dev/null -w '%{time_total}' "http://$ADDR$page")
  echo "page $page: cold ${cold}s, warm ${warm}s"
done

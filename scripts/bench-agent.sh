#!/usr/bin/env bash
# bench-agent.sh [BINARY]: CPU and RSS of `servescope serve --agent` next to
# `servescope serve` on the same simulated fleet, and the agent's
# remote-write throughput, for BENCHMARKS.md and docs/scale.md.
#
# One `servescope sim` ($SCENARIO, $GPUS GPUs, real time) is scraped every
# 15 s by both: the embedded server (TSDB, catalog rules, diagnosis) and an
# agent remote-writing to Debian's Prometheus (--web.enable-remote-write-
# receiver). After $WARMUP seconds, CPU seconds, samples and bytes are read
# from each one's /metrics, again after $SECONDS_MEASURED more; RSS at the
# end and its peak (VmHWM) come from /proc. Prints a Markdown table.
# Everything runs on loopback in a temporary directory removed at the end;
# only the processes started here are stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-healthy}
GPUS=${GPUS:-1000}
WARMUP=${WARMUP:-90}
MEASURE=${SECONDS_MEASURED:-300}
command -v prometheus >/dev/null || { echo "bench-agent: Debian's prometheus is not installed (apt-get install prometheus)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wait_for() {
  local deadline=$((SECONDS + 300))
  until curl -fsS "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "bench-agent: $1 not ready" >&2; exit 1; }
    sleep 0.5
  done
}

SS=${1:-}
if [ -z "$SS" ]; then
  SS=$WORK/servescope
  go build -C "$ROOT" -o "$SS" ./cmd/servescope
fi

SIM=127.0.0.1:$(free_port)
"$SS" sim --scenario "$SCENARIO" --gpus "$GPUS" --listen "$SIM" --file-sd "$WORK/targets.json" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_for "http://$SIM/truth"

RECV=127.0.0.1:$(free_port)
echo 'global: {scrape_interval: 1m}' >"$WORK/receiver.yml"
prometheus --config.file="$WORK/receiver.yml" --storage.tsdb.path="$WORK/receiver" --web.listen-address="$RECV" \
  --web.enable-remote-write-receiver >"$WORK/receiver.log" 2>&1 &
PIDS+=($!)
wait_for "http://$RECV/-/ready"

jobs_yml="scrape_configs:
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs: [{files: ['$WORK/targets.json']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}]
  - job_name: sim
    honor_labels: false
    file_sd_configs: [{files: ['$WORK/targets.json']}]
    relabel_configs: [{source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}]"
printf 'global: {scrape_interval: 15s, scrape_timeout: 10s}\n%s\n' "$jobs_yml" >"$WORK/serve.yml"
printf 'global: {scrape_interval: 15s, scrape_timeout: 10s, external_labels: {cluster: bench}}\n%s\nremote_write: [{url: "http://%s/api/v1/write"}]\n' \
  "$jobs_yml" "$RECV" >"$WORK/agent.yml"

declare -A ADDR PID
for mode in serve agent; do
  ADDR[$mode]=127.0.0.1:$(free_port)
  flags=()
  [ $mode = agent ] && flags=(--agent)
  "$SS" serve "${flags[@]}" --config "$WORK/$mode.yml" --storage.path "$WORK/$mode" --web.listen-address "${ADDR[$mode]}" \
    >"$WORK/$mode.log" 2>&1 &
  PIDS+=($!)
  PID[$mode]=$!
done
for mode in serve agent; do wait_for "http://${ADDR[$mode]}/-/ready"; done

# metric MODE NAME: the sum of NAME's samples on MODE's /metrics.
metric() {
  curl -fsS "http://${ADDR[$1]}/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.3f", s }'
}

sleep "$WARMUP"
declare -A CPU0
for mode in serve agent; do CPU0[$mode]=$(metric $mode process_cpu_seconds_total); done
SAMPLES0=$(metric agent prometheus_remote_storage_samples_total)
BYTES0=$(metric agent prometheus_remote_storage_bytes_total)
load0=$(cut -d' ' -f1 /proc/loadavg)
sleep "$MEASURE"
SAMPLES1=$(metric agent prometheus_remote_storage_samples_total)
BYTES1=$(metric agent prometheus_remote_storage_bytes_total)
load1=$(cut -d' ' -f1 /proc/loadavg)

echo "bench-agent: $SCENARIO, $GPUS GPUs, 15 s scrape, measured over ${MEASURE} s after ${WARMUP} s; load average $load0 → $load1 on $(nproc) cores"
echo
echo "| | CPU (cores) | RSS at end | peak RSS | series |"
echo "|---|---|---|---|---|"
for mode in serve agent; do
  cpu1=$(metric $mode process_cpu_seconds_total)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/${PID[$mode]}/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/${PID[$mode]}/status")
  if [ $mode = serve ]; then series=$(metric serve servescope_head_series); else series=$(metric agent prometheus_agent_active_series); fi
  awk -v m="$mode" -v c0="${CPU0[$mode]}" -v c1="$cpu1" -v d="$MEASURE" -v r="$rss" -v h="$hwm" -v s="$series" \
    'BEGIN { printf "| `%s` | %.3f | %.0f MiB | %.0f MiB | %d |\n", (m == "agent" ? "serve --agent" : "serve"), (c1 - c0) / d, r / 1024, h / 1024, s }'
done
echo
awk -v s0="$SAMPLES0" -v s1="$SAMPLES1" -v b0="$BYTES0" -v b1="$BYTES1" -v d="$MEASURE" -v g="$GPUS" -v ser="$(metric agent prometheus_agent_active_series)" \
  'BEGIN { printf "remote write: %.0f samples/s, %.0f bytes/s (%.2f bytes/sample, snappy remote-write 1.0); %.1f series per GPU\n", (s1 - s0) / d, (b1 - b0) / d, (b1 - b0) / (s1 - s0), ser / g }'

#!/usr/bin/env bash
# make demo: backfill 6 hours of the healthy mixed-fleet scenario, run the
# simulated cluster live, serve it, print the URL and a one-screen summary,
# and keep running until Ctrl-C.
set -euo pipefail
bin=${1:-bin/servescope}
dir=${2:-.demo}
sim_addr=${3:-127.0.0.1:9500}
addr=${4:-127.0.0.1:9464}
scenario=${SCENARIO:-mixed}
gpus=${GPUS:-0} # 0: the scenario's own size (64 GPUs for mixed; its load is written for that size)

mkdir -p "$dir"
rm -rf "$dir/data"
echo "backfilling 6 hours of the '$scenario' scenario into $dir/data (a few minutes on 2 cores) ..."
"$bin" sim backfill --scenario "$scenario" --gpus "$gpus" --hours 6 --storage.path "$dir/data"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin" sim --scenario "$scenario" --gpus "$gpus" --listen "$sim_addr" --file-sd "$dir/targets.json" >"$dir/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/targets.json" ] && break; sleep 0.1; done

cat >"$dir/servescope.yml" <<YML
global:
  scrape_interval: 15s
  scrape_timeout: 10s
scrape_configs:
  # The simulator says per target how a real cluster scrapes it: exporters
  # that relay other pods' labels (kube-state-metrics, Kueue) with
  # honor_labels true; engines and dcgm-exporter as the scenario says.
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs:
      - files: ['$(cd "$dir" && pwd)/targets.json']
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}
  - job_name: sim
    honor_labels: false
    file_sd_configs:
      - files: ['$(cd "$dir" && pwd)/targets.json']
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}
YML
"$bin" serve --config "$dir/servescope.yml" --storage.path "$dir/data" --web.listen-address "$addr" >"$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -fs "http://$addr/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
# Wait for the first live scrape (discovery settles within a few seconds).
for _ in $(seq 1 300); do
  curl -fs "http://$addr/api/v1/query?query=count(up)" 2>/dev/null | grep -q '"value"' && break
  sleep 0.1
done

"$bin" summary --server "http://$addr" || true
echo
echo "servescope is serving the simulated cluster: http://$addr/"
echo "simulator targets and ground truth: http://$sim_addr/truth   logs: $dir/*.log   stop: Ctrl-C"
wait

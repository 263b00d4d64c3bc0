#!/usr/bin/env bash
# make demo: the simulated cluster served by servescope, dashboard URL within
# a minute. The last 15 minutes of history are written first, then the
# simulator and servescope start and the URL is printed; the older history
# (the rest of the hour that the default views show, then the remaining
# hours) is simulated in the background and moved into the running store as
# blocks, newest first. A history that matches (scenario, GPUs, seed, hours)
# and stopped less than 15 minutes ago is reused: only the gap is filled.
# Keeps running until Ctrl-C.
set -euo pipefail
bin=${1:-bin/servescope}
dir=${2:-.demo}
sim_addr=${3:-127.0.0.1:9500}
addr=${4:-127.0.0.1:9464}
scenario=${SCENARIO:-mixed}
gpus=${GPUS:-0}   # 0: the scenario's own size (64 GPUs for mixed; its load is written for that size)
seed=${SEED:-1}
hours=${HOURS:-6}
prices=${PRICES:-examples/scenarios/prices.yml}
first=900         # seconds of history written before serving
step=15           # the simulated scrape interval

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
prices=$(cd "$(dirname "$prices")" && pwd)/$(basename "$prices")
data=$dir/data
want="scenario=$scenario gpus=$gpus seed=$seed hours=$hours"
total=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
now=$(date +%s)

reuse=0
if [ -d "$data" ] && [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$want" ] &&
  [ -f "$dir/stamp.complete" ] && [ -f "$dir/stamp.end" ]; then
  stopped=$(cat "$dir/stamp.end")
  [ $((now - stopped)) -lt $first ] && reuse=1
fi

rm -f "$dir/stamp.end"
if [ $reuse = 1 ]; then
  echo "reusing the history in $data ($want); filling the $((now - stopped)) s since it stopped ..."
  from=$((stopped - stopped % step + step))
  if [ $((now - from)) -gt $step ]; then
    "$bin" sim backfill --scenario "$scenario" --gpus "$gpus" --seed "$seed" --start "$from" --storage.path "$data" --log.level warn
  fi
else
  rm -rf "$data" "$dir"/fill-* "$dir/stamp" "$dir/stamp.complete"
  echo "$want" >"$dir/stamp"
  t0=$((now - now % step - first)) # the first slice starts at or after t0
  echo "simulating the last $((first / 60)) minutes of the '$scenario' scenario into $data; the older ${hours} h follow in the background ..."
  "$bin" sim backfill --scenario "$scenario" --gpus "$gpus" --seed "$seed" --hours "$(awk -v s=$first 'BEGIN { print s / 3600 }')" \
    --storage.path "$data" --log.level warn
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  date +%s >"$dir/stamp.end"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" sim --scenario "$scenario" --gpus "$gpus" --seed "$seed" --listen "$sim_addr" --file-sd "$dir/targets.json" >"$dir/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/targets.json" ] && break; sleep 0.1; done

cat >"$dir/servescope.yml" <<YML
global:
  scrape_interval: 15s
  scrape_timeout: 10s
servescope:
  # The example price book: the dashboard, cost and reports price GPU-hours.
  price_book: $prices
scrape_configs:
  # The simulator says per target how a real cluster scrapes it: exporters
  # that relay other pods' labels (kube-state-metrics, Kueue) with
  # honor_labels true; engines and dcgm-exporter as the scenario says.
  - job_name: sim-honor
    honor_labels: true
    file_sd_configs:
      - files: ['$dir/targets.json']
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: keep}
  - job_name: sim
    honor_labels: false
    file_sd_configs:
      - files: ['$dir/targets.json']
    relabel_configs:
      - {source_labels: [__meta_sim_honor_labels], regex: 'true', action: drop}
YML
"$bin" serve --config "$dir/servescope.yml" --storage.path "$data" --web.listen-address "$addr" >"$dir/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do curl -fs "http://$addr/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done

if [ $reuse = 0 ] && [ "$total" -le "$first" ]; then
  touch "$dir/stamp.complete"
elif [ $reuse = 0 ]; then
  # The older history, newest first, each slice simulated into a scratch
  # store at low priority and moved into the running store as blocks
  # (picked up within a minute). Progress: $dir/backfill.log.
  (
    child=
    trap '[ -z "$child" ] || kill "$child" 2>/dev/null; exit 143' TERM
    end=$((t0 - step))
    for span in $((3600 - first)) $((total - 3600)); do
      [ "$span" -gt 0 ] || continue
      start=$((end - span + step))
      if [ $((t0 - start)) -gt "$total" ]; then start=$((t0 - total)); fi
      [ "$start" -lt "$end" ] || break
      scratch="$dir/fill-$start"
      nice -n 10 "$bin" sim backfill --scenario "$scenario" --gpus "$gpus" --seed "$seed" --start "$start" --end "$end" \
        --storage.path "$scratch" --into "$data" --log.level warn &
      child=$!
      wait "$child" || exit 1
      child=
      rm -rf "$scratch"
      end=$((start - step))
    done
    touch "$dir/stamp.complete"
    echo "history complete: ${hours} h"
  ) >"$dir/backfill.log" 2>&1 &
  pids+=($!)
fi

echo
echo "servescope is serving the simulated cluster: http://$addr/"
if [ $reuse = 0 ] && [ "$total" -gt "$first" ]; then
  echo "history: the last $((first / 60)) minutes now, the last hour within a minute or two, all ${hours} h a few minutes later (progress: tail -f $dir/backfill.log)"
fi
echo "simulator targets and ground truth: http://$sim_addr/truth   logs: $dir/*.log   stop: Ctrl-C"
echo
"$bin" summary --server "http://$addr" || true
wait

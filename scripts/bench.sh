#!/usr/bin/env bash
# Runs the benchmarks that BENCHMARKS.md records and rewrites its results
# section with the command, the machine and the raw output.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
cmd=(go test -run '^$' -bench . -benchmem -benchtime 3x ./internal/app/ ./internal/sim/...)
"${cmd[@]}" | tee "$out"
# One 30-day report over 1,000 GPUs is long enough on its own.
cmd2=(go test -run '^$' -bench . -benchmem -benchtime 1x ./internal/analyze/cost/)
"${cmd2[@]}" | tee -a "$out"
{
  sed '/^## Latest run/,$d' BENCHMARKS.md
  echo "## Latest run"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commands: \`${cmd[*]}\` and \`${cmd2[*]}\` (via \`make bench\`)"
  echo "- machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3-)"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|goarch|cpu|pkg|ok)' "$out"
  echo '```'
} > BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
rm -f "$out"

#!/usr/bin/env bash
# Runs every fuzz target for a while (default 15s each).
set -euo pipefail
t=${1:-15s}
go test -list 'Fuzz.*' ./... 2>/dev/null | awk '/^ok|^\?/{next} /^Fuzz/{print}' >/dev/null
for pkg in $(go list ./...); do
  for f in $(go test -list 'Fuzz.*' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
  done
done

# scripts/lib.sh: what the e2e and benchmark scripts share, sourced by them.
# A temporary directory $WORK removed on exit ($E2E_KEEP=1 keeps it), the
# background processes in $PIDS stopped on exit, and a free loopback port.

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

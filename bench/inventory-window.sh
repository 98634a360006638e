#!/usr/bin/env bash
# The Inventory page of the real app window with 10,000 VMs from vcsim (issue 7, "Measure"):
# discovery + first render, the page's own first render with the listing cached, filter keystrokes
# and a cluster facet, timed inside the page from the event to the DOM showing the answer; see
# bench/inventory-window.mjs. Not a test; figures go to docs/PERFORMANCE.md.
#
#   bench/inventory-window.sh [--no-build] [--release] [RUNS=3] [VMS=10000]
#     --no-build: use the binaries and ui/dist as they are; --release: build and run
#     target/release's app and hyperctl (the default is the debug build the tests use).
#     VMS may also come from the environment. VMs are spread over 10 clusters as in
#     bench/vsphere-discovery.sh (vcsim -cluster 10 -host 1 -vm VMS/10 -standalone-host 0);
#     vcsim alone takes minutes to build 10,000 VMs (it starts first and builds while we compile).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
# shellcheck source=scripts/lib/vcsim.sh
source "$ROOT/scripts/lib/vcsim.sh"
cd "$ROOT"

window_bench_options "$@"
RUNS="${BENCH_ARGS[0]:-3}"
VMS="${BENCH_ARGS[1]:-${VMS:-10000}}"
CLUSTERS=10
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"
[[ "$VMS" =~ ^[1-9][0-9]*$ && "$VMS" -ge "$CLUSTERS" ]] || die "VMS must be a number ≥ $CLUSTERS, not '$VMS'"
PER_POOL=$(((VMS + CLUSTERS - 1) / CLUSTERS))
started=$(now_s)

WORK=$(mktemp -d /var/tmp/inventory-window.XXXXXX)
SIM_PID=
cleanup() {
  local rc=$? i
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    # SIGTERM lets vcsim remove its datastores; it is killed if that takes long (10,000 VMs).
    kill "$SIM_PID" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  echo "whole run: $(elapsed_since "$started") s (exit $rc)" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_vcsim >&2

# vcsim first: building 10,000 VMs takes minutes, which the builds below can overlap. It keeps
# its datastores under TMPDIR and leaves them behind when killed: keep them in WORK.
mkdir -p "$WORK/tmp"
USER_NAME=bench PASS=bench-pass
echo "starting vcsim with $((PER_POOL * CLUSTERS)) VMs ($CLUSTERS clusters × $PER_POOL; minutes for 10,000)…" >&2
sim_t0=$(now_s)
TMPDIR="$WORK/tmp" "$ROOT/.tools/bin/vcsim" -l 127.0.0.1:0 -username "$USER_NAME" -password "$PASS" \
  -cluster "$CLUSTERS" -host 1 -vm "$PER_POOL" -standalone-host 0 >"$WORK/vcsim.out" 2>"$WORK/vcsim.err" &
SIM_PID=$!

prepare_window_bins

# Up to 30 minutes for the inventory (10,000 VMs took 6.5–7.5 min on 2 shared cores).
deadline=$(($(date +%s) + 1800))
until grep -q GOVC_URL "$WORK/vcsim.out" 2>/dev/null; do
  kill -0 "$SIM_PID" 2>/dev/null || { cat "$WORK/vcsim.err" >&2; die "vcsim exited before it was ready"; }
  (($(date +%s) < deadline)) || die "vcsim not ready after 30 minutes"
  sleep 1
done
echo "vcsim ready $(elapsed_since "$sim_t0") s after its start" >&2
URL=$(sed -n 's/.*GOVC_URL=\([^ ]*\).*/\1/p' "$WORK/vcsim.out")
# The app pins this certificate (hyperctl --pin-fingerprint), as a user who trusts it does.
PIN=$(GOVC_URL="$URL" GOVC_USERNAME="$USER_NAME" GOVC_PASSWORD="$PASS" GOVC_INSECURE=1 \
  "$ROOT/.tools/bin/govc" about.cert -k -json | sed -n 's/.*"thumbprintSHA256": *"\([^"]*\)".*/\1/p' | tr -d ':' | tr 'A-F' 'a-f')
[[ -n "$PIN" ]] || die "no certificate fingerprint from govc about.cert"

export BENCH_RUNS="$RUNS" BENCH_VMS="$((PER_POOL * CLUSTERS))" BENCH_VCSIM_ENDPOINT="${URL%/sdk}" \
  BENCH_VCSIM_USER="$USER_NAME" BENCH_VCSIM_PASSWORD="$PASS" BENCH_VCSIM_PIN="$PIN"
# Not exec: the trap stops vcsim and removes WORK when the measurement ends or fails.
"$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/inventory-window.mjs"

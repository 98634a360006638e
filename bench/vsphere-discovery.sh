#!/usr/bin/env bash
# vSphere discovery benchmark (issue 4, "Measure"): time a full inventory discovery against vcsim,
# side by side with
#   govc    govc object.collect -json -type m / name runtime.powerState config.hardware.device
#   raw     one raw SOAP RetrievePropertiesEx / ContinueRetrievePropertiesEx paging loop for the same
#           properties our discovery asks for, answers read but not parsed (the server's floor)
#   ours    hypersdk-vsphere's discovery: sign in, container view, paged retrieval, parse, tree
# and again (raw-dev, ours-dev) with disk/NIC counts from config.hardware.device instead of the VM
# summary counters; each RUNS times (median reported), all against the same simulator.
#
# Usage: bench/vsphere-discovery.sh [VMS=1000] [RUNS=3]     (prints a Markdown table)
#   VMs are spread over 10 clusters (vcsim -cluster 10 -vm VMS/10 -standalone-host 0).
#   The issue's size is 10,000 VMs: `bench/vsphere-discovery.sh 10000` — opt-in, vcsim alone takes
#   minutes to build that inventory. Not part of CI.
# Needs: Go (builds vcsim/govc once via scripts/lib/vcsim.sh), cargo (release build of the example).
set -euo pipefail
VMS=${1:-1000}
RUNS=${2:-3}
CLUSTERS=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# BENCH_BIN: a prebuilt examples/discovery_bench (skips the cargo build).
BIN="${BENCH_BIN:-$ROOT/target/release/examples/discovery_bench}"
# shellcheck source=scripts/lib/vcsim.sh
source "$ROOT/scripts/lib/vcsim.sh"
ensure_vcsim >&2
TOOLS="$ROOT/.tools/bin"
WORK=$(mktemp -d /var/tmp/vsphere-bench.XXXXXX)
cleanup() {
  [ -n "${SIM_PID:-}" ] && kill "$SIM_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -n "${BENCH_BIN:-}" ] || (cd "$ROOT" && cargo build --release -p hypersdk-vsphere --example discovery_bench >&2)

PER_POOL=$(((VMS + CLUSTERS - 1) / CLUSTERS))
USER=bench PASS=bench-pass
echo "starting vcsim with $((PER_POOL * CLUSTERS)) VMs (this can take minutes for 10,000)…" >&2
t0=$(date +%s.%N)
# vcsim keeps its datastores under TMPDIR and leaves them behind when stopped: keep them in WORK.
mkdir -p "$WORK/tmp"
TMPDIR="$WORK/tmp" "$TOOLS/vcsim" -l 127.0.0.1:0 -username "$USER" -password "$PASS" \
  -cluster "$CLUSTERS" -host 1 -vm "$PER_POOL" -standalone-host 0 >"$WORK/vcsim.out" 2>"$WORK/vcsim.err" &
SIM_PID=$!
until grep -q GOVC_URL "$WORK/vcsim.out" 2>/dev/null; do
  kill -0 "$SIM_PID" 2>/dev/null || { cat "$WORK/vcsim.err" >&2; exit 1; }
  sleep 0.5
done
echo "vcsim ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}') s" >&2
URL=$(sed -n 's/.*GOVC_URL=\([^ ]*\).*/\1/p' "$WORK/vcsim.out")
export GOVC_URL="$URL" GOVC_USERNAME="$USER" GOVC_PASSWORD="$PASS" GOVC_INSECURE=1
PIN=$("$TOOLS/govc" about.cert -k -json | sed -n 's/.*"thumbprintSHA256": "\([^"]*\)".*/\1/p' | tr -d ':' | tr 'A-F' 'a-f')
export VSPHERE_URL="${URL%/sdk}" VSPHERE_USER="$USER" VSPHERE_PASSWORD="$PASS" VSPHERE_PIN="$PIN"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A T
for tool in govc raw ours raw-dev ours-dev; do
  : >"$WORK/$tool.times"
  for _ in $(seq "$RUNS"); do
    case $tool in
      govc)
        s=$(now)
        "$TOOLS/govc" object.collect -json -type m / name runtime.powerState config.hardware.device >"$WORK/govc.json"
        awk -v a="$s" -v b="$(now)" 'BEGIN{printf "%.3f\n", b-a}' >>"$WORK/$tool.times"
        ;;
      raw | ours)
        "$BIN" "$tool" | tee -a "$WORK/$tool.jsonl" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' >>"$WORK/$tool.times"
        ;;
      raw-dev | ours-dev)
        DEVICE_LIST=1 "$BIN" "${tool%-dev}" | tee -a "$WORK/$tool.jsonl" |
          sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' >>"$WORK/$tool.times"
        ;;
    esac
  done
  T[$tool]=$(median <"$WORK/$tool.times")
done
OURS_VMS=$(tail -1 "$WORK/ours.jsonl" | sed -n 's/.*"vms":\([0-9]*\).*/\1/p')
RAW_BYTES=$(tail -1 "$WORK/raw.jsonl" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
RAW_DEV_BYTES=$(tail -1 "$WORK/raw-dev.jsonl" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
GOVC_VMS=$(grep -o '"obj"' "$WORK/govc.json" | wc -l || true)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo
echo "Discovery of $OURS_VMS VMs (vcsim, $CLUSTERS clusters; median of $RUNS; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo
kib() { awk -v b="$1" 'BEGIN{printf "%.0f KiB", b/1024}'; }
echo "| client | time | ratio |"
echo "|---|---|---|"
echo "| govc object.collect -type m (name, powerState, device) | ${T[govc]} s | |"
echo "| raw SOAP paging loop, same properties as ours ($(kib "$RAW_BYTES")) | ${T[raw]} s | |"
echo "| **ours: discovery, disk/NIC counts from the VM summary (default)** | ${T[ours]} s | $(ratio "${T[ours]}" "${T[govc]}")× govc, $(ratio "${T[ours]}" "${T[raw]}")× raw |"
echo "| raw SOAP paging loop, device-list properties ($(kib "$RAW_DEV_BYTES")) | ${T[raw-dev]} s | |"
echo "| ours: discovery, counts from config.hardware.device | ${T[ours-dev]} s | $(ratio "${T[ours-dev]}" "${T[govc]}")× govc, $(ratio "${T[ours-dev]}" "${T[raw-dev]}")× raw-dev |"
echo
echo "targets (issue 4): ours ≤ 0.5× govc; ours ≤ 1.2× the raw loop for the same properties."
echo "(govc objects reported: $GOVC_VMS)"

#!/usr/bin/env bash
# Proxmox discovery benchmark (issue 13, "Measure"): our inventory of a fakepve cluster of VMS VMs on
# 4 nodes against one raw GET /cluster/resources (the server's floor), median of RUNS. Prints a
# Markdown table (examples/discovery_bench.rs says what each row times).
#
# Usage: bench/proxmox-discovery.sh [VMS=2000] [RUNS=5]
# Needs: the Python peers (scripts/lib/pypeers.sh makes .tools/venv), cargo (release build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/lib/pypeers.sh" >&2
(cd "$ROOT" && cargo build --release -q -p hypersdk-proxmox --example discovery_bench >&2)
"$ROOT/target/release/examples/discovery_bench" "${1:-2000}" "${2:-5}"

#!/usr/bin/env bash
# Proxmox export benchmark (issue 13, "Measure"): `hyperctl export` of a fixture VM over loopback SSH
# (fakepve for the API, Debian's sshd with the fake vzdump for the data path) against, in the same
# run, the floor `ssh … vzdump --stdout | zstd -d > /dev/null` and the durable-write stage, with
# peak RSS at each fixture size; see bench/proxmox-export.mjs for what each row times. Not a test;
# figures go to docs/PERFORMANCE.md.
#
#   bench/proxmox-export.sh [RUNS=3]     (prints a Markdown table)
#     SIZES_MIB="1024 4096"  fixture disk sizes (one disk of random data each; cached in BENCH_DIR)
#     BENCH_DIR=/var/tmp/hypersdk-bench/proxmox-export
#     SKIP_OVA=1             leave out the default OVA (streamOptimized VMDK conversion) rows
# Builds hyperctl and make_vma in release (no-ops when up to date) and the Python peers' venv.
# Runs inside scripts/lib/with-session.sh: hyperctl keeps the token and SSH key in the keyring.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT"

bash "$ROOT/scripts/lib/pypeers.sh" >&2
npm_ci_if_needed "$ROOT/tests/e2e" >&2
cargo build --release -q -p hyperctl >&2
cargo build --release -q -p hypersdk-proxmox --features fixtures --example make_vma >&2
export HYPERCTL_BIN="$TARGET_DIR/release/hyperctl" MAKE_VMA_BIN="$TARGET_DIR/release/examples/make_vma"
exec "$ROOT/scripts/lib/with-session.sh" -- node "$ROOT/bench/proxmox-export.mjs" "$@"

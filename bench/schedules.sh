#!/usr/bin/env bash
# Scheduler benchmark (issue 5): with N schedules (default 10,000; varied cron expressions in five
# zones) it measures parsing + next fire times in memory, loading them from SQLite and computing
# their next fire times, `list_schedules`, the overhead of one scheduler tick with nothing due, and
# peak RSS; then M schedules (default 100) due at the same second are fired by the real scheduler
# loop on the system clock, each exporting a 1 MiB local disk to an OVA: how late each run starts
# and how late its export job starts (the job limiter queues all but max_concurrent_jobs).
#
# Usage: bench/schedules.sh [N=10000] [M=100]   (prints Markdown table rows)
# Builds crates/hypersdk-core/examples/schedules_bench.rs in release mode.
set -euo pipefail
N=${1:-10000}
M=${2:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release -q -p hypersdk-core --example schedules_bench
# Wherever this checkout's target dir is (CARGO_TARGET_DIR or ./target).
BIN=$(cargo build --release -q -p hypersdk-core --example schedules_bench --message-format=json \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "schedules_bench" and m.get("executable"):
        print(m["executable"])')
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| measurement | result | notes |"
echo "|---|---|---|"
"$BIN" "$N" "$M" | grep '^|'

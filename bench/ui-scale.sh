#!/usr/bin/env bash
# UI at scale (not a test; no timings are asserted anywhere): the real Jobs page with 100,000
# generated jobs in jsdom — first render, filter keystrokes, sort, a job update — and the real
# Inventory page with 10,000 generated VMs — first render, filter keystrokes, a facet — on
# React's production build (as the app ships) and, for comparison, its development build under
# act(); plus one 1 Hz update of the live throughput chart with 20 running jobs (development
# build). Figures go to docs/PERFORMANCE.md.
#
#   bench/ui-scale.sh [RUNS]     BENCH_JOBS=100000 and BENCH_VMS=10000 by default;
#                                JSON results in target/bench/
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
npm_ci_if_needed "$ROOT/ui" >&2
mkdir -p "$TARGET_DIR/bench"
export BENCH_RUNS="${1:-5}"
cd "$ROOT/ui"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version)"
BENCH_OUT="$TARGET_DIR/bench/ui-scale-prod.json" BENCH_REACT=production \
  npx vitest run --config vitest.bench.config.ts --reporter=dot
BENCH_OUT="$TARGET_DIR/bench/ui-scale-dev.json" \
  npx vitest run --config vitest.bench.config.ts --reporter=dot
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results: $TARGET_DIR/bench/ui-scale-prod.json $TARGET_DIR/bench/ui-scale-dev.json"

#!/usr/bin/env bash
# The Jobs page of the real app window with 100,000 jobs in its database (issue 7, "Measure"):
# first render and filter keystrokes, timed inside the page from the event to the DOM showing the
# core's answer (IPC, SQLite query and React render all included); see bench/jobs-window.mjs.
# Not a test; figures go to docs/PERFORMANCE.md.
#
#   bench/jobs-window.sh [--no-build] [--release] [RUNS=5]     BENCH_JOBS=100000
#     --no-build: use the binaries as they are; --release: build and run target/release's app
#     and hyperctl (the default is the debug build the tests use)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT"

window_bench_options "$@"
export BENCH_RUNS="${BENCH_ARGS[0]:-5}"
prepare_window_bins
# The seeding tool writes the jobs the way the bench of the core's queries does.
cargo build --release -q -p hypersdk-core --example job_query_bench >&2
export BENCH_SEED="$TARGET_DIR/release/examples/job_query_bench"
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/jobs-window.mjs"

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

build=1
profile=debug
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --no-build) build=0 ;;
    --release) profile=release ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
export BENCH_RUNS="${1:-5}"
npm_ci_if_needed "$ROOT/tests/e2e" >&2
ensure_tauri_driver >&2
((build)) && build_window_bins "$profile" >&2
# The seeding tool writes the jobs the way the bench of the core's queries does.
cargo build --release -q -p hypersdk-core --example job_query_bench >&2
APP_BIN="$TARGET_DIR/$profile/hypersdk-desktop" HYPERCTL_BIN="$TARGET_DIR/$profile/hyperctl"
[[ -x "$APP_BIN" && -x "$HYPERCTL_BIN" ]] || die "no $profile build of the app and hyperctl in $TARGET_DIR"
echo "app: $APP_BIN" >&2
export HYPERSDK_E2E_APP="$APP_BIN" HYPERSDK_E2E_HYPERCTL="$HYPERCTL_BIN"
export BENCH_SEED="$TARGET_DIR/release/examples/job_query_bench"
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/jobs-window.mjs"

#!/usr/bin/env bash
# The Jobs page of the real app window with 100,000 jobs in its database (issue 7, "Measure"):
# first render and filter keystrokes, timed inside the page from the event to the DOM showing the
# core's answer (IPC, SQLite query and React render all included); see bench/jobs-window.mjs.
# Not a test; figures go to docs/PERFORMANCE.md.
#
#   bench/jobs-window.sh [--no-build] [RUNS=5]     BENCH_JOBS=100000
#     BENCH_PROFILE=release  run target/release's app and hyperctl (build them first with
#                            cargo build --release -p hypersdk-desktop -p hyperctl); the default
#                            is the debug build the tests use
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT"

build=1
if [[ "${1:-}" == --no-build ]]; then
  build=0
  shift
fi
export BENCH_RUNS="${1:-5}"
npm_ci_if_needed "$ROOT/tests/e2e" >&2
ensure_tauri_driver >&2
if ((build)); then
  [[ -f ui/dist/index.html ]] || die "ui/dist missing: run ./scripts/test.sh or (cd ui && npm run build) first"
  mapfile -t features < <(cargo_feature_args)
  cargo build --workspace --bins "${features[@]}" >&2
fi
# The seeding tool writes the jobs the way the bench of the core's queries does.
cargo build --release -q -p hypersdk-core --example job_query_bench >&2
if [[ "${BENCH_PROFILE:-debug}" == release ]]; then
  APP_BIN="$TARGET_DIR/release/hypersdk-desktop" HYPERCTL_BIN="$TARGET_DIR/release/hyperctl"
  [[ -x "$APP_BIN" && -x "$HYPERCTL_BIN" ]] || die "no release build in $TARGET_DIR/release"
fi
echo "app: $APP_BIN" >&2
export HYPERSDK_E2E_APP="$APP_BIN" HYPERSDK_E2E_HYPERCTL="$HYPERCTL_BIN"
export BENCH_SEED="$TARGET_DIR/release/examples/job_query_bench"
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/jobs-window.mjs"

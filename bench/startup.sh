#!/usr/bin/env bash
# Start-up benchmark (not a test): N cold starts of the real app window under Xvfb; time from
# process spawn to an interactive window, and idle memory (PSS and RSS of the app plus its WebKit
# processes) after 10 s. Prints a markdown table; numbers go to docs/PERFORMANCE.md.
#
#   bench/startup.sh [--no-build] [--release] [N]
#     N: cold starts (default 5); BENCH_IDLE_MS: idle wait before measuring memory (default 10000)
#     --no-build: use the binary as it is; --release: build and measure target/release (~14 min once)
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
n="${1:-5}"
APP_BIN="$TARGET_DIR/$profile/hypersdk-desktop"

npm_ci_if_needed "$ROOT/tests/e2e" >&2
ensure_tauri_driver >&2
((build)) && build_window_bins "$profile" >&2
[[ -x "$APP_BIN" ]] || die "$APP_BIN missing"

export HYPERSDK_E2E_APP="$APP_BIN"
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/startup.mjs" "$n"

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

window_bench_options "$@"
n="${BENCH_ARGS[0]:-5}"
prepare_window_bins
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/startup.mjs" "$n"

#!/usr/bin/env bash
# Webview CPU with 20 exports running (issue 7): the real app window under Xvfb on the Dashboard
# while 20 vSphere exports from vcsim run; see bench/webview-cpu.mjs. Not a test; figures go to
# docs/PERFORMANCE.md.
#
#   bench/webview-cpu.sh [--no-build] [--release]
#     BENCH_WINDOW_S=30     seconds measured while all 20 jobs run
#     BENCH_RANDOM_MIB=160  random data per VM disk (more keeps the jobs running longer)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
source "$ROOT/scripts/lib/vcsim.sh"
cd "$ROOT"

window_bench_options "$@"
ensure_vcsim >&2
prepare_window_bins
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/webview-cpu.mjs"

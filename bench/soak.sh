#!/usr/bin/env bash
# Memory over a long run (issue 19): the real app under Xvfb with the Dashboard open, a scheduled
# vSphere export (vcsim) every minute, the window closed to the tray and reopened every 10 minutes,
# and the PSS of each of its processes sampled every minute; see bench/soak.mjs. Not a test;
# figures go to docs/PERFORMANCE.md.
#
#   bench/soak.sh [--no-build] [--release]
#     BENCH_MINUTES=60     how long (the growth is judged from minute 10 to the last)
#     BENCH_RANDOM_MIB=8   random data in the VM's disk (each export carries it)
#     BENCH_MINUTE_S=60 BENCH_CYCLE=10   a shorter "minute" and close/reopen cycle, to try the script
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
source "$ROOT/scripts/lib/vcsim.sh"
cd "$ROOT"

window_bench_options "$@"
ensure_apt python3-xlib >&2
ensure_vcsim >&2
prepare_window_bins
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- node "$ROOT/bench/soak.mjs"

#!/usr/bin/env bash
# Runs a command inside a private D-Bus session that has an unlocked gnome-keyring Secret Service
# (a throw-away keyring in a temporary directory), optionally under a private Xvfb display.
#
#   scripts/lib/with-session.sh [--xvfb] [--no-keyring] -- CMD [ARGS...]
#
# Exports HYPERSDK_KEYRING_DIR (the temporary dir) to the command. Everything is removed afterwards.
# Recipe: /work/shared/RECIPES.md "OS keyring in tests" and "Running the real window headless".
set -euo pipefail

xvfb=0
keyring=1
while (($#)); do
  case "$1" in
    --xvfb) xvfb=1; shift ;;
    --no-keyring) keyring=0; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
(($#)) || { echo "usage: $0 [--xvfb] [--no-keyring] -- CMD [ARGS...]" >&2; exit 2; }

KR="$(mktemp -d "${TMPDIR:-/tmp}/hypersdk-session.XXXXXX")"
mkdir -m700 "$KR/run" "$KR/data"

# Ends the processes that belong to this session only (found by the temporary dir in their
# environment): gnome-keyring-daemon outlives dbus-run-session otherwise.
cleanup() {
  local pid
  for pid in $(grep -lsz "^XDG_RUNTIME_DIR=$KR/run\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    [[ "$pid" == "$$" ]] && continue
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$KR"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs inside the new bus: unlock (creates) the keyring, then the command.
inner='
if [[ "$HYPERSDK_WITH_KEYRING" == 1 ]]; then
  echo -n ci-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
fi
"$@"'

# NO_AT_BRIDGE: no accessibility bus to spawn and log in a headless session.
session=(env XDG_DATA_HOME="$KR/data" XDG_RUNTIME_DIR="$KR/run" HYPERSDK_KEYRING_DIR="$KR" NO_AT_BRIDGE=1
  HYPERSDK_WITH_KEYRING="$keyring" dbus-run-session -- bash -c "$inner" bash "$@")

set +e
if ((xvfb)); then
  xvfb-run -a -s "-screen 0 1280x800x24" "${session[@]}"
else
  "${session[@]}"
fi
rc=$?
set -e
exit "$rc"

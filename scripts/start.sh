#!/usr/bin/env bash
# Installs what is needed (idempotent), builds the UI and the app, and opens the app window.
#
#   ./scripts/start.sh [APP ARGS...]     # from the repository root, as root on Debian 12 (or with sudo)
#
# With a desktop session (DISPLAY or WAYLAND_DISPLAY set) the window opens there and uses your
# keyring. Without one (a server, a container) the app runs on a private Xvfb display with a
# throw-away keyring, so it can still be checked (screenshots, WebDriver); Ctrl+C ends it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT"

headless=0
[[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]] && headless=1

check_toolchains build
if ((headless)); then
  ensure_apt "${APT_BUILD_PKGS[@]}" "${APT_SESSION_PKGS[@]}"
else
  ensure_apt "${APT_BUILD_PKGS[@]}"
fi
npm_ci_if_needed "$ROOT/ui"

log "building the UI (ui/dist)"
(cd ui && npm run --silent build </dev/null)

log "building the app (first build takes ~5 min, then seconds)"
mapfile -t features < <(cargo_feature_args)
cargo build --workspace --bins "${features[@]}" </dev/null

if ((headless)); then
  # A throw-away keyring cannot keep passwords, so the data dir is throw-away too unless given.
  if [[ -z "${HYPERSDK_DATA_DIR:-}" ]]; then
    HYPERSDK_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hypersdk-headless.XXXXXX")"
    export HYPERSDK_DATA_DIR
  fi
  log "no DISPLAY: starting on a private Xvfb display (1280x800) with a throw-away keyring"
  log "data and logs: $HYPERSDK_DATA_DIR (hypersdk.db, logs/); Ctrl+C to stop"
  exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- "$APP_BIN" "$@"
fi
log "data and logs: ${HYPERSDK_DATA_DIR:-~/.local/share/hypersdk-desktop} (hypersdk.db, logs/)"
log "starting $APP_BIN"
exec "$APP_BIN" "$@"

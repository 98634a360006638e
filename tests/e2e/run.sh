#!/usr/bin/env bash
# End-to-end tests of the real app window alone (what scripts/test.sh runs as its last stage).
#
#   tests/e2e/run.sh [--no-build] [SPEC_FILE...]
#
# Builds the app and hyperctl (incremental, seconds) unless --no-build, then runs the specs with
# Node's test runner under Xvfb, in a private D-Bus session with an unlocked gnome-keyring.
# Each test gets its own HYPERSDK_DATA_DIR; tauri-driver listens on 127.0.0.1 only.
# Screenshots and app logs of failed tests go to tests/e2e/.artifacts/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT/tests/e2e"

build=1
if [[ "${1:-}" == --no-build ]]; then
  build=0
  shift
fi

if ((build)); then
  npm_ci_if_needed "$ROOT/tests/e2e"
  ensure_tauri_driver
  if [[ ! -f "$ROOT/ui/dist/index.html" ]]; then
    npm_ci_if_needed "$ROOT/ui"
    (cd "$ROOT/ui" && npm run --silent build)
  fi
  mapfile -t features < <(cargo_feature_args)
  (cd "$ROOT" && cargo build --workspace --bins "${features[@]}" &&
    cargo build -p hypersdk-proxmox --features fixtures --example make_vma)
fi

for f in "$APP_BIN" "$HYPERCTL_BIN" "$TARGET_DIR/debug/examples/make_vma" "$ROOT/.tools/bin/tauri-driver" /usr/bin/WebKitWebDriver; do
  [[ -x "$f" ]] || die "$f is missing (run ./scripts/test.sh once, or tests/e2e/run.sh without --no-build)"
done

specs=("$@")
((${#specs[@]})) || specs=(specs/*.test.mjs)

export HYPERSDK_E2E_APP="$APP_BIN" HYPERSDK_E2E_HYPERCTL="$HYPERCTL_BIN" HYPERSDK_E2E_MAKE_VMA="$TARGET_DIR/debug/examples/make_vma"
# The runner's TAP summary ("# pass N", "# fail N") is the last thing printed.
exec "$ROOT/scripts/lib/with-session.sh" --xvfb -- \
  node --test --test-concurrency=1 --test-reporter=tap "${specs[@]}"

#!/usr/bin/env bash
# Installs what is needed (idempotent), then runs every test: formatting, UI checks and unit tests,
# clippy, Rust tests against a real Secret Service keyring, and end-to-end tests of the real app
# window (tauri-driver + WebKitWebDriver under Xvfb). Fails fast; exit code != 0 on any failure.
#
#   ./scripts/test.sh            # from the repository root, as root on Debian 12 (or with sudo)
#
# Stage logs are kept in target/test-logs/. Ends with one summary line "test.sh: N passed, N failed".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$ROOT/scripts/lib/deps.sh"
cd "$ROOT"

LOG_DIR="$TARGET_DIR/test-logs"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.log

mapfile -t FEATURES < <(cargo_feature_args 2>/dev/null || true)
# A CI run starts from a fresh clone: incremental compilation data would only cost time there.
if [[ "${CI:-}" == true ]]; then export CARGO_INCREMENTAL=0; fi

T0="$(now_s)"
STAGE_NO=0
STAGE_TIMES=()

# stage NAME CMD...: header, output (also to a log), elapsed seconds; stops everything on failure.
stage() {
  local name="$1" t log rc
  shift
  STAGE_NO=$((STAGE_NO + 1))
  log="$LOG_DIR/$(printf '%02d' "$STAGE_NO")-${name// /-}.log"
  printf '\n==> [%d] %s\n' "$STAGE_NO" "$name"
  t="$(now_s)"
  set +e # (the stage itself runs with -e in its own subshell)
  (set -e; "$@") 2>&1 | tee "$log"
  rc="${PIPESTATUS[0]}"
  set -e
  local dt
  dt="$(elapsed_since "$t")"
  STAGE_TIMES+=("$name ${dt}s")
  if ((rc != 0)); then
    printf '<== [%d] %s FAILED (exit %d) after %ss; log: %s\n' "$STAGE_NO" "$name" "$rc" "$dt" "$log"
    printf 'test.sh: FAILED at stage "%s" after %ss\n' "$name" "$(elapsed_since "$T0")"
    exit "$rc"
  fi
  printf '<== [%d] %s ok (%ss)\n' "$STAGE_NO" "$name" "$dt"
}

deps() {
  check_toolchains lints
  ensure_apt "${APT_BUILD_PKGS[@]}" "${APT_SESSION_PKGS[@]}" "${APT_TEST_PKGS[@]}"
  ensure_tauri_driver
  # The vSphere test peer (vcsim, govc), built from the Go module proxy once.
  bash "$ROOT/scripts/lib/vcsim.sh"
  # The Proxmox test peers (fakepve, dissect.archive), from PyPI into .tools/venv.
  bash "$ROOT/scripts/lib/pypeers.sh"
  [[ -x /usr/bin/WebKitWebDriver ]] || die "/usr/bin/WebKitWebDriver missing (apt package webkit2gtk-driver)"
}

npm_install() {
  npm_ci_if_needed "$ROOT/ui"
  npm_ci_if_needed "$ROOT/tests/e2e"
}

ui() { (cd "$ROOT/ui" && npm run --silent "$@" </dev/null); }

# The crates in crates/ must not depend on Tauri or its webview (issue 2: `cargo tree -p <core> -i tauri`
# finds nothing): list everything that pulls tauri/wry in, and fail if a crates/ member is among them.
layering() {
  local dep users bad=0
  for dep in tauri wry; do
    users="$(cargo tree --workspace -e normal,build,dev -i "$dep" --prefix none 2>/dev/null | sort -u || true)"
    if grep -F "($ROOT/crates/" <<<"$users"; then
      echo "error: the crate(s) above under crates/ depend on $dep"
      bad=1
    else
      echo "$dep: used by $(grep -F "($ROOT/" <<<"$users" | cut -d' ' -f1 | tr '\n' ' ')only"
    fi
  done
  return "$bad"
}

rust_tests() {
  "$ROOT/scripts/lib/with-session.sh" -- cargo test --workspace "${FEATURES[@]}"
}

# The app and hyperctl, and the VMA fixture writer the Proxmox journey feeds its fake vzdump with.
build_for_e2e() {
  cargo build --workspace --bins "${FEATURES[@]}"
  cargo build -p hypersdk-proxmox --features fixtures --example make_vma
}

stage "deps" deps
stage "npm ci" npm_install
stage "cargo fmt" cargo fmt --all --check
stage "layering" layering
stage "ui typecheck" ui typecheck
stage "ui lint" ui lint
stage "ui test" ui test
stage "ui build" ui build
[[ -f ui/dist/index.html ]] || die "ui/dist/index.html missing after the UI build"
stage "cargo clippy" cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings
stage "cargo test" rust_tests
stage "cargo build" build_for_e2e
stage "e2e" "$ROOT/tests/e2e/run.sh" --no-build

# Summary: real test counts parsed from the runners' own closing lines.
strip() { sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1"; }
count() { # count FILE -> "passed failed skipped"
  strip "$1" | awk '
    /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i; if ($(i+1) ~ /^ignored;?$/) s += $i } }
    /^[[:space:]]*Tests[[:space:]]+[0-9]/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^skipped/) s += $i } }
    /^# pass / { p += $3 } /^# fail / { f += $3 } /^# skipped / { s += $3 } /^# todo / { s += $3 }
    END { printf "%d %d %d\n", p, f, s }'
}
read -r rp rf rs < <(count "$(ls "$LOG_DIR"/*-cargo-test.log)")
read -r up uf us < <(count "$(ls "$LOG_DIR"/*-ui-test.log)")
read -r ep ef es < <(count "$(ls "$LOG_DIR"/*-e2e.log)")
printf '\n==> all %d stages ok in %ss: %s\n' "$STAGE_NO" "$(elapsed_since "$T0")" "$(IFS=,; echo "${STAGE_TIMES[*]}" | sed 's/,/, /g')"
printf '    rust %d passed (%d ignored), ui %d passed (%d skipped), e2e %d passed (%d skipped)\n' \
  "$rp" "$rs" "$up" "$us" "$ep" "$es"
skipped=$((rs + us + es))
tail_skipped=""
if ((skipped > 0)); then tail_skipped=", $skipped skipped"; fi
printf 'test.sh: %d passed, %d failed%s\n' "$((rp + up + ep))" "$((rf + uf + ef))" "$tail_skipped"

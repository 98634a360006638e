# shellcheck shell=bash
# Dependency installation, idempotent and fast when everything is already there.
# Requires scripts/lib/common.sh to be sourced first.

# shellcheck disable=SC2034 # (the arrays are used by the scripts that source this file)
# What compiling and running the app needs (RECIPES.md: Tauri 2 build dependencies).
APT_BUILD_PKGS=(build-essential pkg-config file libssl-dev libxdo-dev librsvg2-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev)
# A virtual display, a session bus and a Secret Service (headless runs and tests).
APT_SESSION_PKGS=(xvfb xauth dbus gnome-keyring)
# Everything else the tests use.
# virt-v2v (with nbdkit and libnbd-bin) judges our OVAs in the export-engine tests.
# prometheus provides promtool, which judges the /metrics output and the alert rules.
# python3-venv holds the Python test peers (scripts/lib/pypeers.sh: fakepve, dissect.archive);
# openssh-server is the real sshd the Proxmox provider's SSH data path is tested against.
# python3-xlib lets bench/lib/close_window.py press a window's close button under Xvfb (no window manager).
APT_TEST_PKGS=(webkit2gtk-driver libsecret-tools curl libxml2-utils qemu-utils sqlite3 virt-v2v nbdkit libnbd-bin
  prometheus python3-venv openssh-server python3-xlib)

MIN_CARGO=1.89.0
MIN_NODE=20.19.0

# ensure_apt PKG...: installs the packages dpkg-query does not report as installed.
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "apt: all ${#} packages present"
    return 0
  fi
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: this script targets Debian 12"
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}): run as root, or install sudo"
    sudo=(sudo)
  fi
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "${_HYPERSDK_APT_UPDATED:-}" ]]; then
    "${sudo[@]}" apt-get update -q </dev/null
    _HYPERSDK_APT_UPDATED=1
  fi
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# check_toolchains: cargo >= 1.89 (+ rustfmt/clippy when asked), node >= 20.19, npm.
# We never download toolchains ourselves; we say how to get them.
check_toolchains() {
  local want_lints="${1:-}" v problems=()
  if ! command -v cargo >/dev/null; then
    problems+=("cargo not found. Install Rust >= $MIN_CARGO with rustup (Debian's rustc is too old):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && . \"\$HOME/.cargo/env\"")
  else
    v="$(cargo --version | awk '{print $2}')"
    v="${v%%-*}"
    version_ge "$v" "$MIN_CARGO" || problems+=("cargo $v is too old (need >= $MIN_CARGO): rustup update stable")
    if [[ "$want_lints" == lints ]]; then
      cargo fmt --version >/dev/null 2>&1 || problems+=("rustfmt missing: rustup component add rustfmt")
      cargo clippy --version >/dev/null 2>&1 || problems+=("clippy missing: rustup component add clippy")
    fi
  fi
  if ! command -v node >/dev/null; then
    problems+=("node not found. Install Node.js >= $MIN_NODE (Debian's nodejs is too old), e.g. from NodeSource:
    curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs")
  else
    v="$(node --version)"
    v="${v#v}"
    version_ge "$v" "$MIN_NODE" || problems+=("node $v is too old (need >= $MIN_NODE): install a newer Node.js, e.g. from NodeSource (deb.nodesource.com)")
  fi
  command -v npm >/dev/null || problems+=("npm not found: it ships with Node.js from NodeSource (apt-get install nodejs)")
  if ((${#problems[@]})); then
    printf 'error: toolchain check failed:\n' >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
  log "toolchains: $(cargo --version | cut -d' ' -f1-2), node $(node --version), npm $(npm --version)"
}

# npm_ci_if_needed DIR: `npm ci` only when package-lock.json changed since the last install.
npm_ci_if_needed() {
  local dir="$1" stamp sum
  [[ -f "$dir/package-lock.json" ]] || die "$dir/package-lock.json is missing (commit the lockfile)"
  stamp="$dir/node_modules/.hypersdk-npm-ci.stamp"
  sum="$(cat "$dir/package-lock.json" "$dir/package.json" | sha256sum | cut -d' ' -f1) node-$(node --version)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    log "npm: ${dir#"$ROOT"/} up to date"
    return 0
  fi
  log "npm: npm ci in ${dir#"$ROOT"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  printf '%s\n' "$sum" >"$stamp"
}

# ensure_tauri_driver: tauri-driver in .tools/bin (cargo install, ~45 s, once per checkout).
ensure_tauri_driver() {
  if [[ -x "$ROOT/.tools/bin/tauri-driver" ]]; then
    log "tauri-driver: present"
    return 0
  fi
  log "tauri-driver: cargo install tauri-driver --locked --root .tools"
  cargo install tauri-driver --locked --root "$ROOT/.tools" </dev/null
}

# build_window_bins [debug|release]: the app and hyperctl the window benchmarks run. The app embeds
# ui/dist when it is compiled, and ui/dist is built, not committed: it is built again first when
# any of the UI's sources (tests and jsdom benchmarks aside) is newer than it.
build_window_bins() {
  local profile="${1:-debug}" features
  if [[ ! -f "$ROOT/ui/dist/index.html" ]] ||
    [[ -n "$(cd "$ROOT" && find ui/src ui/index.html ui/package.json ui/package-lock.json ui/vite.config.* ui/tsconfig*.json \
      -newer ui/dist/index.html -not -name '*.test.*' -not -path 'ui/src/bench/*' -print -quit 2>/dev/null)" ]]; then
    npm_ci_if_needed "$ROOT/ui"
    echo "building the UI (ui/dist is older than its sources)…"
    (cd "$ROOT/ui" && npm run build)
  fi
  mapfile -t features < <(cargo_feature_args)
  if [[ $profile == release ]]; then
    (cd "$ROOT" && cargo build --release -p hypersdk-desktop -p hyperctl "${features[@]}")
  else
    (cd "$ROOT" && cargo build --workspace --bins "${features[@]}")
  fi
}

# window_bench_options "$@": the options every window benchmark takes, `--no-build` (use the
# binaries and ui/dist as they are) and `--release` (target/release's app and hyperctl instead of
# the debug build the tests use). Sets BUILD, PROFILE, and APP_BIN / HYPERCTL_BIN of that profile;
# the arguments after the options are left in BENCH_ARGS.
window_bench_options() {
  BUILD=1 PROFILE=debug
  while [[ "${1:-}" == --* ]]; do
    case "$1" in
      --no-build) BUILD=0 ;;
      --release) PROFILE=release ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  BENCH_ARGS=("$@")
  APP_BIN="$TARGET_DIR/$PROFILE/hypersdk-desktop" HYPERCTL_BIN="$TARGET_DIR/$PROFILE/hyperctl"
}

# prepare_window_bins: what a window benchmark needs before it starts the app (after
# window_bench_options): the WebDriver side, the binaries built unless --no-build, and their paths
# exported for tests/e2e/lib/app.mjs. Writes only to stderr, so benchmarks' stdout stays a report.
prepare_window_bins() {
  npm_ci_if_needed "$ROOT/tests/e2e" >&2
  ensure_tauri_driver >&2
  if ((BUILD)); then build_window_bins "$PROFILE" >&2; fi
  [[ -x "$APP_BIN" && -x "$HYPERCTL_BIN" ]] || die "no $PROFILE build of the app and hyperctl in $TARGET_DIR"
  echo "app: $APP_BIN" >&2
  export HYPERSDK_E2E_APP="$APP_BIN" HYPERSDK_E2E_HYPERCTL="$HYPERCTL_BIN"
}

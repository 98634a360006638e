# shellcheck shell=bash
# Shared helpers for scripts/start.sh, scripts/test.sh, tests/e2e/run.sh and bench/.
# Source it; it sets ROOT (the repository root) and a few helpers. No side effects beyond PATH.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

# rustup installs into ~/.cargo/bin; a shell opened before that may not have it on PATH yet.
if [[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" && ":$PATH:" != *":${CARGO_HOME:-$HOME/.cargo}/bin:"* ]]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
# tauri-driver is installed per checkout (cargo install --root .tools).
PATH="$ROOT/.tools/bin:$PATH"
export PATH

# Where cargo puts binaries (respects CARGO_TARGET_DIR like cargo does).
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export TARGET_DIR
APP_BIN="$TARGET_DIR/debug/hypersdk-desktop"
HYPERCTL_BIN="$TARGET_DIR/debug/hyperctl"
export APP_BIN HYPERCTL_BIN


log() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# now_s: seconds since epoch with millisecond precision (for elapsed times).
now_s() { date +%s.%N | cut -c1-14; }
elapsed_since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# version_ge A B: true when dotted version A >= B.
version_ge() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# Feature arguments that make the shell crate serve ui/dist through the custom protocol.
# Every cargo command (clippy, test, build) must use the SAME set, or tauri is recompiled.
# Preferred: src-tauri/Cargo.toml has `default = ["custom-protocol"]` -> no flag needed.
cargo_feature_args() {
  local manifest="$ROOT/src-tauri/Cargo.toml"
  [[ -f "$manifest" ]] || return 0
  # Look only inside the [features] table.
  local features
  features="$(awk '/^\[features\]/{f=1; next} /^\[/{f=0} f' "$manifest")"
  if grep -Eq '^[[:space:]]*default[[:space:]]*=.*"custom-protocol"' <<<"$features"; then
    return 0
  elif grep -Eq '^[[:space:]]*custom-protocol[[:space:]]*=' <<<"$features"; then
    printf '%s\n' --features hypersdk-desktop/custom-protocol
  else
    printf '%s\n' --features tauri/custom-protocol
  fi
}

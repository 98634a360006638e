#!/usr/bin/env bash
# The Python test peers, in a venv of their own (.tools/venv), from PyPI with pinned versions:
# fakepve (a Proxmox VE API server) and dissect.archive (an independent VMA reader). Idempotent:
# reinstalls only when scripts/lib/peers-requirements.txt changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
VENV="$ROOT/.tools/venv"
REQ="$ROOT/scripts/lib/peers-requirements.txt"
stamp="$VENV/.hypersdk-requirements.sha256"
sum="$(sha256sum "$REQ" | cut -d' ' -f1) $(python3 --version 2>&1)"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
  log "python peers: up to date"
  exit 0
fi
log "python peers: installing into .tools/venv"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" </dev/null
printf '%s\n' "$sum" >"$stamp"

#!/usr/bin/env bash
# Export-engine benchmark (issue 3): package a disk served by a local HTTPS server into an OVA with
# a SHA-256 manifest (fsynced), and measure each stage alone on the same bytes:
#   source read   curl -k URL -o /dev/null
#   hashing       openssl dgst -sha256 FILE
#   durable write dd if=FILE of=OUT bs=4M conv=fsync
# plus the naive `curl | tee | sha256sum` pipeline, our export uncompressed / zstd / gzip, and the
# exporter's peak RSS for a 1 GiB and a SIZE GiB disk.
#
# Usage: bench/ova-export.sh [SIZE_GIB=4] [WORKDIR]   (prints a Markdown table)
#        QUICK=1 bench/ova-export.sh …   stages + uncompressed export only
# Needs: python3, openssl, curl, dd, (zstd for the reference row), a release build of the example (built here if missing).
set -euo pipefail
SIZE_GIB=${1:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${2:-$(mktemp -d /var/tmp/ova-bench.XXXXXX)}
BIN="$ROOT/target/release/examples/ova_bench"
mkdir -p "$WORK/srv"
cleanup() { [ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p hypersdk-ovf --example ova_bench)

# A disk image that looks like a used disk: per 4 MiB, 1 MiB random, 1 MiB zeros, 2 MiB base64 text.
gen() {
  python3 - "$1" "$2" <<'PY'
import base64, os, sys
path, gib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for _ in range(gib * 256):
        f.write(os.urandom(1 << 20))
        f.write(b"\0" * (1 << 20))
        f.write(base64.b64encode(os.urandom(1536 << 10)))
PY
}
gen "$WORK/srv/disk.img" "$SIZE_GIB"
head -c 1G "$WORK/srv/disk.img" > "$WORK/srv/disk1g.img"

# A throw-away CA and a server certificate for 127.0.0.1 signed by it (rustls refuses a CA
# certificate used as the server's own); the exporter trusts the CA, curl uses -k as in the issue.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 \
  -subj /CN=ova-bench-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -out "$WORK/cert.pem" -days 1 -extfile "$WORK/ext.cnf" 2>/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$WORK/srv" "$PORT" "$WORK/cert.pem" "$WORK/key.pem" <<'PY' &
import functools, http.server, shutil, ssl, sys
root, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def copyfile(self, src, dst): shutil.copyfileobj(src, dst, 1 << 20)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=root))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
SRV_PID=$!
URL="https://127.0.0.1:$PORT/disk.img"
for _ in $(seq 50); do curl -sk -o /dev/null -r 0-0 "$URL" && break; sleep 0.1; done

BYTES=$(stat -c %s "$WORK/srv/disk.img")
cat "$WORK/srv/disk.img" > /dev/null   # warm the page cache: every stage reads the same cached bytes

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s / 1e6 }'; }
row() { printf '| %s | %s s | %s MB/s | %s |\n' "$1" "$2" "$(mbs "$BYTES" "$2")" "${3:-}"; }

echo "| stage ($SIZE_GIB GiB, $(nproc) cores) | time | throughput | notes |"
echo "|---|---|---|---|"
t0=$(now); curl -sk "$URL" -o /dev/null; t1=$(now); READ=$(secs "$t0" "$t1"); row "source read: curl -k URL -o /dev/null" "$READ"
t0=$(now); openssl dgst -sha256 "$WORK/srv/disk.img" > /dev/null; t1=$(now); HASH=$(secs "$t0" "$t1"); row "hashing: openssl dgst -sha256" "$HASH"
t0=$(now); dd if="$WORK/srv/disk.img" of="$WORK/dd.out" bs=4M conv=fsync status=none; t1=$(now); WRITE=$(secs "$t0" "$t1"); row "durable write: dd bs=4M conv=fsync" "$WRITE"
rm -f "$WORK/dd.out"; sync
if command -v zstd > /dev/null; then
  t0=$(now); zstd -q -3 -T0 -c "$WORK/srv/disk.img" > /dev/null; t1=$(now)
  row "(compression alone: zstd -3 -T0 FILE)" "$(secs "$t0" "$t1")" "a stage only for .ova.zst"
fi
LIMIT=$(printf '%s\n%s\n%s\n' "$READ" "$HASH" "$WRITE" | sort -g | tail -1)
if [ -z "${QUICK:-}" ]; then
t0=$(now); curl -sk "$URL" | tee "$WORK/naive.out" | sha256sum > /dev/null; sync "$WORK/naive.out"; t1=$(now)
row "naive: curl \| tee \| sha256sum (+ sync)" "$(secs "$t0" "$t1")"
rm -f "$WORK/naive.out"; sync
fi

run_export() { # compress size_url out -> prints "seconds rss_kib out_bytes"
  local json; json=$("$BIN" "$2" "$WORK/$3" "$1" "$WORK/ca.pem")
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["seconds"], j["peak_rss_kib"], j["out_bytes"])' "$json"
  rm -f "$WORK/$3"; sync
}
read -r NONE RSS_NONE _ < <(run_export none "$URL" out.ova)
row "**hyperctl engine: OVA, SHA-256, fsync**" "$NONE" "$(awk -v l="$LIMIT" -v t="$NONE" 'BEGIN{printf "%.2f× of the slowest stage", l/t}'); peak RSS $((RSS_NONE / 1024)) MiB"
[ -n "${QUICK:-}" ] && exit 0
read -r ZSTD RSS_ZSTD ZBYTES < <(run_export zstd "$URL" out.ova.zst)
row "engine: OVA + zstd -3, all cores" "$ZSTD" "$(awk -v a="$NONE" -v t="$ZSTD" 'BEGIN{printf "%.2f× of uncompressed", a/t}'); $((ZBYTES / 1048576)) MiB out; peak RSS $((RSS_ZSTD / 1024)) MiB"
read -r GZ RSS_GZ GBYTES < <(run_export gzip "$URL" out.ova.gz)
row "engine: OVA + gzip -6 (single thread)" "$GZ" "$((GBYTES / 1048576)) MiB out; peak RSS $((RSS_GZ / 1024)) MiB"
read -r ONE RSS_ONE _ < <(run_export none "https://127.0.0.1:$PORT/disk1g.img" out1.ova)
echo
echo "Peak RSS, uncompressed export: 1 GiB disk $((RSS_ONE / 1024)) MiB, $SIZE_GIB GiB disk $((RSS_NONE / 1024)) MiB (1 GiB run: ${ONE} s)."

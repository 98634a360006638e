#!/usr/bin/env bash
# Export-engine benchmark (issue 3): package a disk served by a local HTTPS server into an OVA with
# a SHA-256 manifest (fsynced), and measure each stage alone on the same bytes:
#   source read   curl -k URL -o /dev/null
#   hashing       openssl dgst -sha256 FILE
#   durable write dd if=FILE of=OUT bs=4M conv=fsync
# plus the naive `curl | tee | sha256sum` pipeline, our export uncompressed / zstd / gzip, and the
# exporter's peak RSS for a 1 GiB and a SIZE GiB disk. Every measurement is repeated RUNS times
# (interleaved: run 1 of everything, then run 2, …); the table gives medians and, per run, the
# time and the 1-minute load average when it started.
#
# Usage: bench/ova-export.sh [SIZE_GIB=4] [WORKDIR]   (prints a Markdown table)
#        RUNS=3            repetitions (medians reported)
#        QUICK=1 bench/ova-export.sh …   stages + uncompressed export only
#        SKIP_GZIP=1       no gzip row (single-threaded deflate: minutes per run)
#        SKIP_NAIVE=1      no naive row
#        ZSTD_LEVELS="1 2" extra zstd rows at these levels (besides the default level 3), each
#                          with its `zstd -N -T0 FILE` reference row
#        BENCH_BIN=…       a prebuilt examples/ova_bench (skips the cargo build, which is a no-op
#                          when the example is up to date)
# Needs: python3, openssl, curl, dd, (zstd for the reference rows), cargo.
set -euo pipefail
SIZE_GIB=${1:-4}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${2:-$(mktemp -d /var/tmp/ova-bench.XXXXXX)}
BIN="${BENCH_BIN:-$ROOT/target/release/examples/ova_bench}"
mkdir -p "$WORK/srv"
cleanup() { [ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

[ -n "${BENCH_BIN:-}" ] || (cd "$ROOT" && cargo build --release -p hypersdk-ovf --example ova_bench >&2)

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
load() { cut -d' ' -f1 /proc/loadavg; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mbs() { awk -v n="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", n / s / 1e6 }'; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {printf "%.2f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A T L X C # per measurement: times, loads at start, extra (RSS KiB / output bytes), CPU s
# CPU seconds (user + system) the TLS server has used so far: on 2 cores it competes with the
# exporter, so "exporter + server" CPU / cores is the least wall time any pipeline could take.
TICKS=$(getconf CLK_TCK)
srv_cpu() { awk -v t="$TICKS" '{printf "%.2f", ($14 + $15) / t}' "/proc/$SRV_PID/stat"; }
rec() { T[$1]="${T[$1]:-} $2"; L[$1]="${L[$1]:-} $3"; X[$1]="${X[$1]:-} ${4:-0}"; }
timed() { # name cmd… — times one command, records it with the load at its start
  local name=$1 l t0; shift
  l=$(load); t0=$(now); "$@"; rec "$name" "$(secs "$t0" "$(now)")" "$l"
}
run_export() { # name compress url out — the example prints seconds, RSS and output bytes
  local l json s0 s1; l=$(load); s0=$(srv_cpu)
  json=$(/usr/bin/time -f '%U %S' -o "$WORK/cpu" "$BIN" "$3" "$WORK/$4" "$2" "$WORK/ca.pem")
  s1=$(srv_cpu)
  C[$1]="${C[$1]:-} $(awk -v a="$s0" -v b="$s1" '{printf "%.2f:%.2f", $1 + $2, b - a}' "$WORK/cpu")"
  rm -f "$WORK/$4"; sync
  read -r s rss out < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["seconds"], j["peak_rss_kib"], j["out_bytes"])' "$json")
  rec "$1" "$(awk -v s="$s" 'BEGIN{printf "%.2f", s}')" "$l" "$rss:$out"
}
hash_file() { openssl dgst -sha256 "$1" > /dev/null; }
naive() { curl -sk "$URL" | tee "$WORK/naive.out" | sha256sum > /dev/null; sync "$WORK/naive.out"; }
LEVELS=${ZSTD_LEVELS:-}

for r in $(seq "$RUNS"); do
  echo "run $r/$RUNS (load $(load))…" >&2
  timed read curl -sk "$URL" -o /dev/null
  timed hash hash_file "$WORK/srv/disk.img"
  timed write dd if="$WORK/srv/disk.img" of="$WORK/dd.out" bs=4M conv=fsync status=none
  rm -f "$WORK/dd.out"; sync
  if command -v zstd > /dev/null; then
    for lv in 3 $LEVELS; do
      l=$(load); t0=$(now); zstd -q "-$lv" -T0 -c "$WORK/srv/disk.img" > /dev/null; rec "zstd-cli-$lv" "$(secs "$t0" "$(now)")" "$l"
    done
  fi
  if [ -z "${QUICK:-}" ] && [ -z "${SKIP_NAIVE:-}" ]; then
    timed naive naive
    rm -f "$WORK/naive.out"; sync
  fi
  run_export none none "$URL" out.ova
  if [ -z "${QUICK:-}" ]; then
    run_export zstd zstd "$URL" out.ova.zst
    for lv in $LEVELS; do run_export "zstd-$lv" "zstd:$lv" "$URL" out.ova.zst; done
    [ -n "${SKIP_GZIP:-}" ] || run_export gzip gzip "$URL" out.ova.gz
  fi
  run_export one none "https://127.0.0.1:$PORT/disk1g.img" out1.ova
done

# --- report -------------------------------------------------------------------------------------
med() { median <<<"${T[$1]}"; }
runs() { # "t1 (l1), t2 (l2)…"
  paste -d' ' <(tr ' ' '\n' <<<"${T[$1]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${L[$1]}" | sed '/^$/d') |
    awk '{printf "%s%s (%s)", (NR>1?", ":""), $1, $2}'
}
# Median of the extra field: part 1 = peak RSS in MiB, part 2 = output MiB.
xmed() { tr ' ' '\n' <<<"${X[$1]}" | sed '/^$/d' | cut -d: -f"$2" | awk '{printf "%d ", $1 / ('"${3:-1024}"')}' | median | cut -d. -f1; }
row() { printf '| %s | %s s | %s MB/s | %s | %s |\n' "$1" "$(med "$2")" "$(mbs "$(med "$2")")" "$(runs "$2")" "${3:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
# "CPU exporter + server s; floor F s on N cores = W× of it": medians of the per-run CPU seconds;
# the floor is their sum spread over every core, the least wall time this much work can take here.
cpu() {
  local e v n; n=$(nproc)
  e=$(tr ' ' '\n' <<<"${C[$1]}" | sed '/^$/d' | cut -d: -f1 | median)
  v=$(tr ' ' '\n' <<<"${C[$1]}" | sed '/^$/d' | cut -d: -f2 | median)
  awk -v e="$e" -v v="$v" -v n="$n" -v w="$(med "$1")" \
    'BEGIN { f = (e + v) / n; printf "CPU %.1f s exporter + %.1f s server, floor %.1f s on %d cores (wall = %.2f× the floor)", e, v, f, n, w / f }'
}
READ=$(med read) HASH=$(med hash) WRITE=$(med write)
LIMIT=$(printf '%s\n%s\n%s\n' "$READ" "$HASH" "$WRITE" | sort -g | tail -1)
NONE=$(med none)
echo
echo "OVA export of a $SIZE_GIB GiB disk over HTTPS: median of $RUNS; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| stage ($SIZE_GIB GiB, $(nproc) cores) | median | throughput | runs: s (1-min load average at start) | notes |"
echo "|---|---|---|---|---|"
row "source read: curl -k URL -o /dev/null" read
row "hashing: openssl dgst -sha256" hash
row "durable write: dd bs=4M conv=fsync" write
echo "| **stage limit** (slowest of the three) | $LIMIT s | $(mbs "$LIMIT") MB/s | | |"
if command -v zstd > /dev/null; then
  for lv in 3 $LEVELS; do row "(compression alone: zstd -$lv -T0 FILE)" "zstd-cli-$lv" "a stage only for .ova.zst"; done
fi
[ -n "${QUICK:-}${SKIP_NAIVE:-}" ] || row "naive: curl \| tee \| sha256sum (+ sync)" naive
row "**hyperctl engine: OVA, SHA-256, fsync**" none "$(ratio "$LIMIT" "$NONE")× of the stage limit; peak RSS $(xmed none 1) MiB; $(cpu none)"
if [ -z "${QUICK:-}" ]; then
  row "engine: OVA + zstd -3 (default), all cores" zstd "$(ratio "$NONE" "$(med zstd)")× of uncompressed; $(xmed zstd 2 1048576) MiB out; peak RSS $(xmed zstd 1) MiB; $(cpu zstd)"
  for lv in $LEVELS; do
    row "engine: OVA + zstd -$lv, all cores" "zstd-$lv" "$(ratio "$NONE" "$(med "zstd-$lv")")× of uncompressed; $(xmed "zstd-$lv" 2 1048576) MiB out; peak RSS $(xmed "zstd-$lv" 1) MiB; $(cpu "zstd-$lv")"
  done
  [ -n "${SKIP_GZIP:-}" ] || row "engine: OVA + gzip -6 (single thread)" gzip "$(xmed gzip 2 1048576) MiB out; peak RSS $(xmed gzip 1) MiB"
fi
echo
echo "Peak RSS, uncompressed export: 1 GiB disk $(xmed one 1) MiB, $SIZE_GIB GiB disk $(xmed none 1) MiB (1 GiB export, s (load): $(runs one))."

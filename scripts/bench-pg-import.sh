#!/usr/bin/env bash
# Import into PostgreSQL against sled: the same N-user file, the same binary.
#
# Usage: scripts/bench-pg-import.sh [N]        (default N=100000)
#
# Builds `cargo build --release` (or measures BENCH_BIN), generates N users
# (scripts/gen_users.py), starts a PostgreSQL of its own (initdb + pg_ctl in a
# temp dir, as the `postgres` user when run as root; default settings, fsync
# on, on 127.0.0.1), then measures BENCH_RUNS times (default 3) the median
# wall time and highest peak RSS of:
#   (a) sled apply:        autoprov --data <fresh dir> import FILE
#   (b) PostgreSQL apply:  autoprov --store postgres://.../<fresh db> import FILE
#   (c) PostgreSQL re-import of the same file (all unchanged)
#   (d) store copy of the sled store of (a) into a fresh database
# Every import report is checked (created == N, unchanged == N for (c)).
#
# Needs: cargo, python3, GNU time at /usr/bin/time, PostgreSQL server binaries
# (/usr/lib/postgresql/*/bin). BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

N=${1:-100000}
RUNS=${BENCH_RUNS:-3}
case $N in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
unset AUTOPROV_DATA AUTOPROV_CONFIG AUTOPROV_STORE
log() { echo "bench-pg-import: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ -x /usr/bin/time ] || die "GNU time missing (apt-get install time)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || die "no PostgreSQL server (apt-get install postgresql)"

if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --bin autoprov) >&2 || die "cargo build --release failed"
    BIN=$ROOT/target/release/autoprov
fi
[ -x "$BIN" ] || die "no autoprov binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-pg-import.XXXXXX")
chmod 755 "$TMP"
AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi
PGDIR=$TMP/pg
mkdir -p "$PGDIR"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGDIR"; fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" stop -m fast >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

log "starting PostgreSQL ($PGBIN) on 127.0.0.1:$PORT"
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-k $PGDIR -p $PORT -c listen_addresses=127.0.0.1" start >/dev/null
psql() { "$PGBIN/psql" -X -q -h "$PGDIR" -p "$PORT" -U postgres -d postgres -c "$1"; }
url() { echo "postgres://postgres@127.0.0.1:$PORT/$1?sslmode=disable"; }

CSV=$TMP/users.csv
log "generating $N users"
python3 "$ROOT/scripts/gen_users.py" "$N" "$CSV"

timed() {
    local step=$1 out=$2
    shift 2
    /usr/bin/time -f '%e %M' -o "$TMP/.time" "$@" >"$out" 2>"$out.err" ||
        { tail -n 20 "$out.err" >&2; die "step '$step': $*"; }
    tail -n 1 "$TMP/.time" >>"$TMP/$step.times"
}

check() { # STEP JSON KEY
    python3 - "$@" "$N" <<'EOF' || exit 1
import json, sys
step, path, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r = json.load(open(path, encoding="utf-8"))
s = r.get("summary") or {}
if r.get("applied") is not True or s.get(key) != n or s.get("errors", 0):
    sys.exit("bench-pg-import: FAILED: step %s: summary %s" % (step, s))
EOF
}

for i in $(seq "$RUNS"); do
    log "run $i/$RUNS: (a) sled apply"
    timed sled "$TMP/sled.$i.json" "$BIN" --data "$TMP/sled.$i" import "$CSV" --format json --no-progress
    check "sled $i" "$TMP/sled.$i.json" created
    log "run $i/$RUNS: (b) PostgreSQL apply"
    psql "CREATE DATABASE b$i"
    timed pg "$TMP/pg.$i.json" "$BIN" --data "$TMP/d.$i" --store "$(url b$i)" import "$CSV" --format json --no-progress
    check "pg $i" "$TMP/pg.$i.json" created
    log "run $i/$RUNS: (c) PostgreSQL re-import"
    timed pg_again "$TMP/again.$i.json" "$BIN" --data "$TMP/d.$i" --store "$(url b$i)" import "$CSV" --format json --no-progress
    check "re-import $i" "$TMP/again.$i.json" unchanged
    log "run $i/$RUNS: (d) store copy sled -> PostgreSQL"
    psql "CREATE DATABASE c$i"
    timed copy "$TMP/copy.$i.out" "$BIN" store copy --from "$TMP/sled.$i" --to "$(url c$i)"
    rm -rf "$TMP/sled.$i"
done

python3 - "$TMP" "$N" "$RUNS" <<'EOF'
import os, statistics, sys
tmp, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def row(step, what):
    vals = [l.split() for l in open(os.path.join(tmp, step + ".times")) if l.strip()]
    wall = statistics.median(float(v[0]) for v in vals)
    rss = max(int(v[1]) for v in vals) / 1024
    print("| %s | %.2f s | %.0f MB | %.0f users/s |" % (what, wall, rss, n / wall if wall else 0))
    return wall
print("\n%d users, median of %d run(s):\n" % (n, runs))
print("| step | wall | peak RSS | rate |")
print("|---|---|---|---|")
sled = row("sled", "(a) import into sled")
pg = row("pg", "(b) import into PostgreSQL")
row("pg_again", "(c) re-import into PostgreSQL (unchanged)")
row("copy", "(d) store copy sled -> PostgreSQL")
print("\nPostgreSQL / sled import time: %.2fx" % (pg / sled if sled else 0))
EOF

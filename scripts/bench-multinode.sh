#!/usr/bin/env bash
# Boot storm against one autoprov node and against two nodes sharing one
# PostgreSQL store, the same total load: wrk with a new connection per
# request (HTTP bootstrap files of N phones' boot sequences), first all
# against node A, then split over A and B on their own ports (two wrk
# processes at once, half the connections each). Both nodes and the
# database run on this machine, so this shows what a second node costs or
# gains on shared cores, not what a second machine would add.
#
# Usage (root: PostgreSQL runs as the postgres user): scripts/bench-multinode.sh [N]
# Env: BENCH_BIN (default: cargo build --release), BENCH_CONNS (default 200),
# BENCH_DURATION (seconds, default 8). One wrk thread per node: with one
# node the load tool has one thread, so that row may be client-bound.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
CONNS=${BENCH_CONNS:-200}
DUR=${BENCH_DURATION:-8}
PGBIN=/usr/lib/postgresql/15/bin
[ "$(id -u)" -eq 0 ] || { echo "run as root (PostgreSQL is started as the postgres user)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 2; }
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q
    BENCH_BIN=target/release/autoprov
fi
BIN=$(readlink -f "$BENCH_BIN")

T=$(mktemp -d)
PGDIR=$(mktemp -d /tmp/apbench-mn.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$T" "$PGDIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

chown postgres "$PGDIR"
PGPORT=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/log" \
    -o "-k $PGDIR -p $PGPORT -c listen_addresses=127.0.0.1" start >/dev/null
psql -qAt -h 127.0.0.1 -p "$PGPORT" -U postgres -c "CREATE DATABASE autoprov" >/dev/null
URL="postgres://postgres:x@127.0.0.1:$PGPORT/autoprov?sslmode=disable"

python3 scripts/gen_users.py "$N" "$T/users.csv"
"$BIN" --data "$T/a" --store "$URL" import "$T/users.csv" --no-progress >/dev/null

# One (path, User-Agent) per phone: its per-MAC file, as its boot asks it.
python3 - "$T/users.csv" "$T/reqs.lua" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
out = open(sys.argv[2], "w")
out.write("local reqs = {}\n")
for r in rows:
    mac = "".join(c for c in r["mac"] if c.isalnum()).lower()
    if not r["phone_model"].startswith("yealink"):
        continue
    colons = ":".join(mac[i:i + 2] for i in range(0, 12, 2))
    ua = "Yealink SIP-T54W 96.86.0.100 %s" % colons
    out.write('reqs[#reqs + 1] = wrk.format("GET", "/%s.cfg", { ["User-Agent"] = "%s", ["Connection"] = "close" })\n' % (mac, ua))
out.write("""local i = 0
function request()
  i = i % #reqs + 1
  return reqs[i]
end
""")
EOF

start_node() { # name -> prints the HTTP port
    local name=$1 port
    port=$(free_port)
    "$BIN" --data "$T/$name" --store "$URL" serve --http "127.0.0.1:$port" --https 127.0.0.1:0 \
        --admin off >"$T/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        grep -q 'listening on http://' "$T/$name.log" 2>/dev/null && break
        sleep 0.1
    done
    echo "$port"
}
A=$(start_node a)
B=$(start_node b)
# req/s; a run with any non-2xx answer or socket error fails the bench.
rps() {
    local out
    out=$(wrk -t1 -c"$1" -d"${DUR}s" -s "$T/reqs.lua" "http://127.0.0.1:$2/")
    if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
        echo "$out" >&2
        echo "FAILED: errors or non-2xx answers from :$2" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# multinode boot storm, $(date -u +%FT%TZ), $(nproc) cores, $N phones (Yealink ones fetched), PostgreSQL 15 on this machine"
echo "# wrk, new connection per request, ${CONNS} connections in all, ${DUR} s"
la=$(load)
one=$(rps "$CONNS" "$A")
echo "one node:  A $one req/s  (load $la)"
la=$(load)
rps $((CONNS / 2)) "$A" >"$T/ra" &
w=$!
rb=$(rps $((CONNS / 2)) "$B")
wait $w
ra=$(cat "$T/ra")
echo "two nodes: A $ra + B $rb = $(python3 -c "print('%.0f' % ($ra + $rb))") req/s  (load $la)"

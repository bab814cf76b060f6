#!/usr/bin/env bash
# DHCP benchmark: autoprov against Kea and dnsmasq, side by side, with the
# same load tool, pool and options, in two network namespaces made here.
# Prints figures; asserts nothing.
#
# Usage (root): scripts/bench-dhcp.sh
#
#  1. installs perfdhcp (kea-admin), kea-dhcp4-server and dnsmasq-base with
#     apt-get if missing, builds `cargo build --release` (or BENCH_BIN);
#  2. makes namespaces apbench-s (server, 10.99.0.1/16) and apbench-p
#     (load tool, 10.99.0.2/16) joined by a veth pair; perfdhcp acts as a
#     relay (giaddr 10.99.0.2), so every server answers it by unicast;
#  3. for each scenario and rate in BENCH_RATES (default "3000 6000 12000")
#     starts each server fresh (empty lease store), runs perfdhcp for
#     BENCH_DURATION seconds (default 5) and prints exchanges/s achieved
#     (answers received / duration), drops and average delays:
#       discover-offer  perfdhcp -i, 60,000 distinct MACs
#       4-way fresh     DISCOVER/OFFER/REQUEST/ACK, 60,000 distinct MACs
#       4-way repeat    the same, 500 MACs coming back again and again
#     Same pool (10.99.1.0-10.99.250.254), router, lease time (3600 s) and
#     option 66 for option-60 "yealink" on all three;
#  4. INFORM (options-only mode; Kea and dnsmasq answer INFORM too):
#     scripts/inform_load.py, open loop, at BENCH_INFORM_RATES (default
#     "5000 10000 20000") for the same duration.
#
# Durability differs, and favours the others: autoprov makes each batch of
# leases durable (sled flush = fsync) before it sends their ACKs; Kea's
# memfile appends each lease to its CSV file without fsync; dnsmasq
# rewrites its lease file. autoprov's per-MAC flood limit is raised for the
# run (perfdhcp's 500 repeating MACs would otherwise be throttled, which is
# the limit doing its job); Kea and dnsmasq have none.
#
# perfdhcp, the servers and the Python INFORM sender share the machine's
# cores: at the highest rates the load tool itself is the ceiling.
# BENCH_LEASES=postgresql: the leases in PostgreSQL instead, autoprov
# (`--store postgres://...`, conditional lease claims) against Kea with its
# PostgreSQL lease backend (`lease-database { type = "postgresql" }`), both
# on one PostgreSQL 15 started here in the server namespace (non-root,
# default settings, fsync on), a fresh database per run; 4-way scenarios
# only, no dnsmasq (it has no database backend), no INFORM part.
# Env: BENCH_BIN, BENCH_RATES, BENCH_INFORM_RATES, BENCH_DURATION, BENCH_KEEP=1,
# BENCH_LEASES=postgresql.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${BENCH_RATES:-3000 6000 12000}
INFORM_RATES=${BENCH_INFORM_RATES:-5000 10000 20000}
DUR=${BENCH_DURATION:-5}
LEASES=${BENCH_LEASES:-files}
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=5432
RUN=0
SRV=apbench-s
PH=apbench-p
SIF=apbs0
PIF=apbp0
POOL_START=10.99.1.0
POOL_END=10.99.250.254
YEALINK_HEX=7965616c696e6b

[ "$(id -u)" -eq 0 ] || { echo "run as root (network namespaces, port 67)" >&2; exit 2; }
missing=()
command -v perfdhcp >/dev/null || missing+=(kea-admin)
command -v kea-dhcp4 >/dev/null || missing+=(kea-dhcp4-server)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q
    BENCH_BIN=target/release/autoprov
fi
BIN=$(readlink -f "$BENCH_BIN")

T=$(mktemp -d)
SERVER_PID=""
cleanup() {
    stop_server
    ip netns pids $SRV 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns pids $PH 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del $SRV 2>/dev/null || true
    ip netns del $PH 2>/dev/null || true
    [ -n "${PGDIR:-}" ] && rm -rf "$PGDIR"
    [ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"
}
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    # Kea and dnsmasq daemons started in the server namespace (not the
    # PostgreSQL server of BENCH_LEASES=postgresql).
    for p in $(ip netns pids $SRV 2>/dev/null); do
        [ "$(ps -o user= -p "$p" 2>/dev/null)" = postgres ] || kill "$p" 2>/dev/null || true
    done
    sleep 0.5
}
trap cleanup EXIT

cleanup_stale() { ip netns del $SRV 2>/dev/null || true; ip netns del $PH 2>/dev/null || true; }
cleanup_stale
ip netns add $SRV
ip netns add $PH
ip link add $SIF netns $SRV type veth peer name $PIF netns $PH
ip -n $SRV addr add 10.99.0.1/16 dev $SIF
ip -n $PH addr add 10.99.0.2/16 dev $PIF
for ns in $SRV $PH; do ip -n $ns link set lo up; done
ip -n $SRV link set $SIF up
ip -n $PH link set $PIF up

if [ "$LEASES" = postgresql ]; then
    # PostgreSQL refuses to run as root: its own directory, owned by postgres.
    PGDIR=$(mktemp -d /tmp/apbench-pg.XXXXXX)
    chown postgres "$PGDIR"
    runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
    ip netns exec $SRV runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/log" \
        -o "-k $PGDIR -p $PGPORT -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
fi
psql_srv() { ip netns exec $SRV psql -qAt -h 127.0.0.1 -p $PGPORT -U postgres "$@"; }

cat > "$T/autoprov.toml" <<EOF
[dhcp]
lease_seconds = 3600
router = "10.99.0.1"
flood_burst = 100000
flood_per_second = 100000
EOF

cat > "$T/kea.json" <<EOF
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["$SIF"], "dhcp-socket-type": "raw"},
  "lease-database": {"type": "memfile", "persist": true, "name": "$T/kea/leases.csv", "lfc-interval": 0},
  "valid-lifetime": 3600,
  "client-classes": [{"name": "yealink", "test": "substring(option[60].hex,0,7) == 'yealink'",
     "option-data": [{"name": "tftp-server-name", "data": "http://10.99.0.1:8080/"}]}],
  "subnet4": [{"id": 1, "subnet": "10.99.0.0/16", "interface": "$SIF",
     "pools": [{"pool": "$POOL_START - $POOL_END"}],
     "option-data": [{"name": "routers", "data": "10.99.0.1"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "$T/kea/kea.log"}], "severity": "WARN"}]
}}
EOF

cat > "$T/dnsmasq.conf" <<EOF
port=0
interface=$SIF
bind-interfaces
dhcp-authoritative
no-ping
dhcp-range=$POOL_START,$POOL_END,255.255.0.0,1h
dhcp-leasefile=$T/dnsmasq/leases
dhcp-lease-max=1000000
dhcp-option=option:router,10.99.0.1
dhcp-vendorclass=set:yealink,yealink
dhcp-option=tag:yealink,66,"http://10.99.0.1:8080/"
EOF

wait_port67() {
    for _ in $(seq 100); do
        ip netns exec $SRV ss -lun 2>/dev/null | grep -q ':67 ' && return 0
        sleep 0.1
    done
    echo "server did not bind port 67" >&2
    return 1
}

# start_server NAME MODE: a fresh store each time.
start_server() {
    local name=$1 mode=$2
    rm -rf "$T/data" "$T/kea" "$T/dnsmasq"
    mkdir -p "$T/kea" "$T/dnsmasq"
    local store=()
    if [ "$LEASES" = postgresql ]; then
        RUN=$((RUN + 1))
        psql_srv -c "CREATE DATABASE ${name}_$RUN" >/dev/null
        if [ "$name" = kea ]; then
            ip netns exec $SRV kea-admin db-init pgsql -u postgres -p x -n "kea_$RUN" -h 127.0.0.1 >/dev/null 2>&1
            python3 - "$T/kea.json" "kea_$RUN" <<'PY'
import json, sys
path, db = sys.argv[1:]
c = json.load(open(path))
c["Dhcp4"]["lease-database"] = {"type": "postgresql", "name": db, "host": "127.0.0.1",
                                "port": 5432, "user": "postgres", "password": "x"}
json.dump(c, open(path, "w"))
PY
        fi
        store=(--store "postgres://postgres:x@127.0.0.1:$PGPORT/${name}_$RUN?sslmode=disable")
    fi
    case $name in
    autoprov)
        local extra=()
        [ "$mode" = full ] && extra=(--dhcp-mode full --dhcp-pool "$POOL_START-$POOL_END")
        ip netns exec $SRV "$BIN" --data "$T/data" --config "$T/autoprov.toml" "${store[@]}" serve \
            --http 10.99.0.1:8080 --https 10.99.0.1:8443 --dhcp $SIF "${extra[@]}" \
            >"$T/autoprov.log" 2>&1 &
        SERVER_PID=$!
        ;;
    kea)
        KEA_LOCKFILE_DIR=$T/kea KEA_PIDFILE_DIR=$T/kea ip netns exec $SRV kea-dhcp4 -c "$T/kea.json" \
            >"$T/kea/stdout" 2>&1 &
        SERVER_PID=$!
        ;;
    dnsmasq)
        touch "$T/dnsmasq/leases"
        ip netns exec $SRV dnsmasq --keep-in-foreground --conf-file="$T/dnsmasq.conf" --user=root \
            --pid-file="$T/dnsmasq/pid" >"$T/dnsmasq/stdout" 2>&1 &
        SERVER_PID=$!
        ;;
    esac
    wait_port67
}

# perfdhcp_row NAME SCENARIO RATE CLIENTS [-i]
perfdhcp_row() {
    local name=$1 scenario=$2 rate=$3 clients=$4 flag=${5:-}
    local out
    out=$(ip netns exec $PH perfdhcp -4 -l 10.99.0.2 -r "$rate" -R "$clients" -p "$DUR" -W 1000000 \
        -o 60,$YEALINK_HEX $flag 10.99.0.1 2>&1 || true)
    echo "$out" | awk -v name="$name" -v sc="$scenario" -v rate="$rate" -v dur="$DUR" '
        /Statistics for: DISCOVER-OFFER/ { s = "do" }
        /Statistics for: REQUEST-ACK/ { s = "ra" }
        /^received packets:/ { recv[s] = $3 }
        /^drops:/ { drops[s] = $2 }
        /^avg delay:/ { avg[s] = $3 }
        END {
            done = (sc == "discover-offer") ? recv["do"] : recv["ra"];
            printf "%-9s %-15s %7d %11.0f %8d %8d %9s %9s\n", name, sc, rate, done / dur,
                drops["do"] + 0, drops["ra"] + 0, avg["do"] == "" ? "-" : avg["do"], avg["ra"] == "" ? "-" : avg["ra"];
        }'
}

SERVERS="autoprov kea dnsmasq"
SCENARIOS=(discover-offer "4-way fresh" "4-way repeat")
if [ "$LEASES" = postgresql ]; then
    SERVERS="autoprov kea"
    SCENARIOS=("4-way fresh" "4-way repeat")
fi
echo "# DHCP benchmark, $(date -u +%FT%TZ), $(nproc) cores, leases: $LEASES, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# duration ${DUR} s per run; exchanges/s = answers received / duration (REQUEST-ACK for 4-way)"
printf "%-9s %-15s %7s %11s %8s %8s %9s %9s\n" server scenario offered "exch/s" drops_DO drops_RA avg_DO_ms avg_RA_ms
for scenario in "${SCENARIOS[@]}"; do
    case $scenario in
    discover-offer) clients=60000 flag=-i ;;
    "4-way fresh") clients=60000 flag= ;;
    "4-way repeat") clients=500 flag= ;;
    esac
    for rate in $RATES; do
        for name in $SERVERS; do
            start_server $name full
            perfdhcp_row $name "${scenario// /-}" "$rate" $clients $flag
            stop_server
            if [ "$LEASES" = postgresql ]; then
                # Proof the leases went to the database: the rows each left.
                table=autoprov_leases
                [ "$name" = kea ] && table=lease4
                echo "#   ${name}_$RUN: $(psql_srv -d "${name}_$RUN" -c "SELECT count(*) FROM $table") lease rows in PostgreSQL"
            fi
        done
    done
done

[ "$LEASES" = postgresql ] && exit 0
echo
echo "# INFORM (autoprov in options-only mode), open loop from 10.99.0.2 with ciaddr set"
printf "%-9s %7s %10s %8s %8s\n" server offered "answers/s" p50_ms p99_ms
for rate in $INFORM_RATES; do
    for name in autoprov kea dnsmasq; do
        start_server $name options-only
        ip netns exec $PH python3 scripts/inform_load.py 10.99.0.2 10.99.0.1 "$rate" "$DUR" |
            python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-9s %7d %10.0f %8s %8s" % (sys.argv[1], r["offered_per_s"], r["answered_per_s"], r["p50_ms"], r["p99_ms"]))' "$name"
        stop_server
    done
done

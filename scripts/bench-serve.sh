#!/usr/bin/env bash
# Boot-storm benchmark of `autoprov serve` against nginx serving the same
# pre-rendered files, side by side, with the same load tool. Prints figures.
#
# Usage: scripts/bench-serve.sh [N]        (default N=10000 phones)
#
#  1. installs wrk, h2load (nghttp2-client) and nginx with apt-get if
#     missing, builds
#     `cargo build --release`, generates N users with one phone each
#     (scripts/gen_users.py: Yealink, Polycom, Cisco, Grandstream, Snom,
#     Fanvil), imports them into a fresh data dir and starts
#     `autoprov serve` on loopback with its defaults (plain HTTP gives the
#     bootstrap file without secrets, HTTPS the full file);
#  2. fetches, for every phone, the 2 files of its boot sequence (a common
#     or boot file and its per-MAC file) once over HTTP and once over HTTPS
#     with the vendor's real User-Agent, checks each is a 200, and writes them
#     into two docroots for nginx (so nginx's HTTP serves exactly autoprov's
#     HTTP bytes, its HTTPS exactly autoprov's HTTPS bytes); starts nginx
#     (non-root config in the temp dir, 2 workers = the machine's cores, the
#     same ECDSA P-256 chain (server certificate + local CA) and key autoprov
#     generated, access log on
#     as autoprov records every fetch, TLS at nginx's defaults: tickets on);
#  3. drives the same load against both: wrk, 2 threads, a Lua script walking
#     the list of 2*N (path, User-Agent) requests, `Connection: close` so
#     every request is a new TCP connection, and over HTTPS a full TLS
#     handshake (wrk would otherwise resume its previous session: it runs
#     with a small LD_PRELOAD, built here with cc, that drops the session
#     before reconnecting; the "https+resume" rows let wrk resume as it
#     does by default, against both servers' default resumption: nginx's
#     tickets, autoprov's tickets and session cache), for each concurrency in BENCH_CONCURRENCY
#     (default "200 1000", the issue's targets) for BENCH_DURATION seconds (default 10),
#     autoprov and nginx alternating; prints req/s, p50/p99, errors, non-2xx,
#     the autoprov/nginx ratio, the servers' CPU time per request (from
#     /proc, all nginx processes summed) and the load average before each run
#     (BENCH_WRK=0 skips this part);
#  3b. the boot storm as phones make it, open loop, with h2load (see the
#     section's comment): BENCH_STORM_PHONES (default 10000) phones, each a
#     new connection (a full TLS handshake over HTTPS) fetching its 2 files
#     and closing, arriving in bursts of BENCH_STORM_BURST (default 1000) at
#     the same instant once a second, and at the steady rates in
#     BENCH_STORM_RATES (phones/s, default "1000 3000"; over HTTPS
#     BENCH_STORM_RATES_TLS, default "200 600"); per-request p50/p99
#     from h2load's --log-file, plus its connect-to-first-byte mean/max,
#     autoprov and nginx alternating, with the load average of each run.
#     Why h2load and not oha: it is a Debian package (nghttp2-client, seconds
#     to install; oha is a 12-minute cargo build on this machine), its rate
#     mode creates R new connections per period regardless of how fast the
#     server answers (open loop, no coordinated omission), each making n/c
#     requests on its connection (2 = a phone's boot: one connection, two
#     files), and --log-file gives every request's latency, so p50/p99 are
#     computed here, the same way for both servers. (oha -q paces requests,
#     not phones: with keep-alive off it opens a connection per request.)
#  4. memory: imports BENCH_RSS_N users (default 100000; 0 skips) into another
#     fresh data dir, starts serve, fetches a sample of 2,000 files, and reads
#     VmRSS/VmHWM from /proc.
# Everything runs on 127.0.0.1 and is removed on exit (trap).
#
# Caveats, printed again with the results: wrk, the servers and anything
# else on the machine share its cores; wrk's latency is measured from the
# request write, i.e. after connect and after the TLS handshake, so
# handshake time shows in req/s but not in p50/p99; wrk is a closed loop,
# so mean latency ~ concurrency / req/s (1,000 connections at 15,000 req/s
# is ~65 ms whatever the server): its p50/p99 are printed but the p99 target
# is checked on the open-loop burst of 1,000 phones (3b).
#
# Env: BENCH_BIN=/path/to/autoprov skips the build; BENCH_KEEP=1 keeps the
# temp dir; BENCH_STRICT=1 exits 1 if a target is missed.
# Needs: cargo (and so cc), python3, curl, root or sudo for apt-get (only
# when wrk/nginx are missing). Tested on Debian 12.
set -euo pipefail

N=${1:-10000}
CONCS=${BENCH_CONCURRENCY:-200 1000}
DUR=${BENCH_DURATION:-10}
RSS_N=${BENCH_RSS_N:-100000}
STRICT=${BENCH_STRICT:-0}
THREADS=${BENCH_THREADS:-2}
WRK=${BENCH_WRK:-1}
STORM_PHONES=${BENCH_STORM_PHONES:-10000}
STORM_BURST=${BENCH_STORM_BURST:-1000}
STORM_RATES=${BENCH_STORM_RATES:-1000 3000}
# A full handshake per phone costs ~0.5 ms of server CPU and as much in
# h2load on the same 2 cores: ~1,000 phones/s saturate both servers, so the
# HTTPS steady rates stay below that.
STORM_RATES_TLS=${BENCH_STORM_RATES_TLS:-200 600}

case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N]  (N = number of phones, default 10000)" >&2; exit 2 ;; esac
case $DUR in '' | *[!0-9]* | 0) echo "BENCH_DURATION must be a positive integer (seconds)" >&2; exit 2 ;; esac
case $STORM_PHONES in '' | *[!0-9]*) echo "BENCH_STORM_PHONES must be a number (0 skips)" >&2; exit 2 ;; esac
case $STORM_BURST in '' | *[!0-9]* | 0) echo "BENCH_STORM_BURST must be a positive integer" >&2; exit 2 ;; esac
for c in $CONCS $STORM_RATES $STORM_RATES_TLS; do
    case $c in *[!0-9]* | 0) echo "BENCH_CONCURRENCY/BENCH_STORM_RATES*: bad value '$c'" >&2; exit 2 ;; esac
done
for r in $STORM_RATES $STORM_RATES_TLS; do
    # paced as r/100 new phones every 10 ms, split evenly over the h2load
    # threads (h2load rounds each thread's share down)
    [ $((r % (100 * THREADS))) -eq 0 ] ||
        { echo "BENCH_STORM_RATES*: $r must be a multiple of $((100 * THREADS))" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
unset AUTOPROV_DATA AUTOPROV_CONFIG RUST_LOG

log() { echo "bench-serve: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# --- tools --------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if ! command -v wrk >/dev/null || ! command -v h2load >/dev/null || [ -z "$NGINX" ] ||
    ! command -v curl >/dev/null; then
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    log "installing wrk, h2load (nghttp2-client), nginx and curl (apt-get)"
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq wrk nghttp2-client nginx curl >&2
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
command -v wrk >/dev/null || die "wrk missing"
command -v h2load >/dev/null || die "h2load missing"
[ -x "$NGINX" ] || die "nginx missing"

# Every request is a new connection: up to ~1,000 open sockets per side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || die "need at least 4096 file descriptors (ulimit -n is $(ulimit -n))"

# --- build ----------------------------------------------------------------------
FIND_EXE='
import json, sys
exe = ""
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m.get("target", {}).get("name") == "autoprov":
        exe = m["executable"]
print(exe)
'
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    log "cargo build --release"
    BIN=$(cd "$ROOT" && cargo build --release --message-format=json-render-diagnostics |
        python3 -c "$FIND_EXE") || die "cargo build --release failed"
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || die "no autoprov binary"
log "binary: $BIN"

# --- workspace and cleanup ------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-serve.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# Starts `autoprov serve` on two free ports; sets SERVE_PID, HTTP_PORT, HTTPS_PORT.
start_autoprov() {
    local data=$1 logf=$2
    HTTP_PORT=$(free_port)
    HTTPS_PORT=$(free_port)
    "$BIN" --data "$data" serve --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" \
        >"$logf" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    for _ in $(seq 1 600); do
        if [ "$(grep -c 'listening on' "$logf" || true)" -ge 2 ]; then
            return 0
        fi
        kill -0 "$SERVE_PID" 2>/dev/null || { cat "$logf" >&2; die "autoprov serve exited"; }
        sleep 0.1
    done
    cat "$logf" >&2
    die "autoprov serve did not print its two 'listening on' lines within 60 s"
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

import_users() {
    local n=$1 data=$2 csv=$3
    python3 "$ROOT/scripts/gen_users.py" "$n" "$csv"
    "$BIN" --data "$data" import "$csv" --format json --no-progress >"$data.report.json" ||
        die "import of $n users failed (see $data.report.json)"
    python3 - "$data.report.json" "$n" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
if not r["applied"] or s["created"] != int(sys.argv[2]) or s["errors"]:
    sys.exit("unexpected import report: %s" % s)
EOF
}

# --- 1. data + autoprov -----------------------------------------------------------
log "generating and importing $N users with phones"
import_users "$N" "$TMP/data" "$TMP/users.csv"
start_autoprov "$TMP/data" "$TMP/serve.log"
AP_HTTP=$HTTP_PORT
AP_HTTPS=$HTTPS_PORT
AP_PID=$SERVE_PID
# The local CA (what clients verify against) and the server chain + key
# HTTPS is served with (nginx gets the same chain and key).
CA=$TMP/data/certs/ca.pem
CERT=$TMP/data/certs/server.pem
KEY=$TMP/data/certs/server.key
[ -f "$CA" ] && [ -f "$CERT" ] && [ -f "$KEY" ] || die "no generated CA/certificate in $TMP/data/certs"
log "autoprov listening on http :$AP_HTTP, https :$AP_HTTPS (pid $AP_PID)"

# --- 2. the same files for nginx --------------------------------------------------
# For each phone: its two boot files, its vendor's User-Agent. Fetched once
# from autoprov over each scheme (10 threads), every answer must be a 200.
log "pre-rendering 2 x $N files per scheme from autoprov"
python3 - "$TMP/users.csv" "$TMP" "$AP_HTTP" "$AP_HTTPS" "$CA" <<'EOF'
import csv, http.client, os, ssl, sys, threading

users_csv, tmp, http_port, https_port, cert = sys.argv[1:]

def boot_files(model, mac):
    """(User-Agent, [two files]) of a phone's boot sequence, as the phone asks."""
    lo, up = mac.lower(), mac.upper()
    colons = ":".join(lo[i:i + 2] for i in range(0, 12, 2))
    vendor, name = model.split("-", 1)
    if vendor == "yealink":  # T54W: firmware 96 -> y000000000096.cfg
        return ("Yealink SIP-%s 96.86.0.100 %s" % (name.upper(), colons),
                ["y000000000096.cfg", lo + ".cfg"])
    if vendor == "polycom":
        return ("FileTransport PolycomVVX-VVX_%s-UA/5.9.0.9373 Type/Application" % name[3:],
                [lo + ".cfg", lo + "-phone.cfg"])
    if vendor == "cisco":
        return ("Cisco-CP-%s-3PCC/12.0.1 (%s)" % (name, lo), [name + ".xml", lo + ".xml"])
    if vendor == "grandstream":
        return ("Grandstream Model HW %s V1.xA SW 1.0.11.79 DevId %s" % (name.upper(), lo),
                ["cfg%s.xml" % lo, "cfg%s.xml" % name])
    if vendor == "snom":
        m = name.upper()
        return ("Mozilla/4.0 (compatible; snom%s-SIP 10.1.33.33 2010.12-00004-g9ba52f5 %s SXM:0 UXM:0)" % (m, up),
                ["snom%s.htm" % m, "snom%s-%s.htm" % (m, up)])
    if vendor == "fanvil":
        return ("Fanvil %s 2.10.2.6887 %s" % (name.upper(), lo), ["f0X4hw1.100.cfg", lo + ".cfg"])
    sys.exit("no boot sequence for model %s" % model)

reqs = []
with open(users_csv, encoding="utf-8", newline="") as f:
    for row in csv.DictReader(f):
        mac = "".join(c for c in row["mac"] if c.isalnum())
        ua, files = boot_files(row["phone_model"], mac)
        for name in files:
            reqs.append(("/" + name, ua))

with open(os.path.join(tmp, "requests.tsv"), "w") as f:
    for path, ua in reqs:
        f.write("%s\t%s\n" % (path, ua))

ctx = ssl.create_default_context(cafile=cert)
errors, lock = [], threading.Lock()
sizes = {"http": 0, "https": 0}

def worker(scheme, port, part):
    conn = None
    for path, ua in part:
        for attempt in range(3):
            try:
                if conn is None:
                    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
                            if scheme == "https" else
                            http.client.HTTPConnection("127.0.0.1", port, timeout=30))
                conn.request("GET", path, headers={"User-Agent": ua})
                r = conn.getresponse()
                body = r.read()
                break
            except (OSError, http.client.HTTPException):
                conn = None
        else:
            raise SystemExit("cannot fetch %s over %s" % (path, scheme))
        if r.status != 200:
            with lock:
                errors.append("%s %s -> %d" % (scheme, path, r.status))
            continue
        out = os.path.join(tmp, "docroot-" + scheme, path.lstrip("/"))
        with open(out, "wb") as f:
            f.write(body)
        with lock:
            sizes[scheme] += len(body)

for scheme, port in (("http", int(http_port)), ("https", int(https_port))):
    os.makedirs(os.path.join(tmp, "docroot-" + scheme), exist_ok=True)
    threads = [threading.Thread(target=worker, args=(scheme, port, reqs[i::10])) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
if errors:
    sys.exit("autoprov refused %d pre-render fetches, e.g. %s" % (len(errors), errors[:3]))
print("bench-serve: %d requests; mean body %.0f B over HTTP (bootstrap), %.0f B over HTTPS"
      % (len(reqs), sizes["http"] / len(reqs), sizes["https"] / len(reqs)), file=sys.stderr)
EOF

NG_HTTP=$(free_port)
NG_HTTPS=$(free_port)
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
USER_LINE=
if [ "$(id -u)" -eq 0 ]; then USER_LINE="user root;"; fi
cat >"$TMP/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes 2;
worker_rlimit_nofile 65536;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
    default_type application/octet-stream;
    access_log $TMP/nginx/logs/access.log;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    sendfile on;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$NG_HTTP;
        root $TMP/docroot-http;
        add_header Cache-Control no-store;
    }
    server {
        listen 127.0.0.1:$NG_HTTPS ssl http2;
        root $TMP/docroot-https;
        add_header Cache-Control no-store;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        # nginx's defaults otherwise: tickets on (ssl_session_tickets),
        # no shared cache. The full-handshake runs below drop the session
        # in the client instead, so one nginx serves both comparisons.
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
NG_PID=$!
PIDS+=("$NG_PID")
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NG_HTTP/$(head -1 "$TMP/requests.tsv" | cut -f1)" 2>/dev/null && break
    kill -0 "$NG_PID" 2>/dev/null || { cat "$TMP/nginx/stderr" >&2; die "nginx exited"; }
    sleep 0.1
done
log "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') listening on http :$NG_HTTP, https :$NG_HTTPS (pid $NG_PID)"

# Same bytes from both servers for a few requests, both schemes.
python3 - "$TMP/requests.tsv" "$CA" "$AP_HTTP" "$AP_HTTPS" "$NG_HTTP" "$NG_HTTPS" <<'EOF'
import http.client, ssl, sys
reqs = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ctx = ssl.create_default_context(cafile=sys.argv[2])
ap_http, ap_https, ng_http, ng_https = map(int, sys.argv[3:])
def get(port, tls, path, ua):
    c = (http.client.HTTPSConnection("127.0.0.1", port, context=ctx) if tls
         else http.client.HTTPConnection("127.0.0.1", port))
    c.request("GET", path, headers={"User-Agent": ua})
    r = c.getresponse()
    return r.status, r.read()
step = max(1, len(reqs) // 50)
for path, ua in reqs[::step]:
    for a, b, tls in ((ap_http, ng_http, False), (ap_https, ng_https, True)):
        x, y = get(a, tls, path, ua), get(b, tls, path, ua)
        if x != y:
            sys.exit("autoprov and nginx differ for %s (tls=%s): %d vs %d" % (path, tls, x[0], y[0]))
EOF
log "autoprov and nginx serve identical bytes (sampled, both schemes)"

# --- 3. load ----------------------------------------------------------------------
# wrk reuses one OpenSSL object per connection slot and, after SSL_clear(),
# resumes the previous session, so against a server with a session cache
# (rustls has one by default) most "new" connections would be resumptions.
# A boot storm is phones connecting for the first time: this LD_PRELOAD
# drops the session before each reuse, so every connection is a full
# handshake against both servers (nginx's cache and tickets are off too).
cat >"$TMP/noresume.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_set_session(SSL *s, SSL_SESSION *session);
int SSL_clear(SSL *s) {
    static int (*real)(SSL *) = NULL;
    if (!real) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    SSL_set_session(s, NULL);
    return real(s);
}
EOF
cc -shared -fPIC -O2 -o "$TMP/noresume.so" "$TMP/noresume.c" -ldl ||
    die "cannot build the no-resumption preload for wrk (needs cc, which cargo needs too)"

# CPU time (user+system, clock ticks) used so far by a process and its live
# children (nginx: master + workers).
cpu_ticks() {
    python3 - "$1" <<'EOF'
import os, sys
root = sys.argv[1]
total = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        f = open("/proc/%s/stat" % pid).read()
    except OSError:
        continue
    fields = f[f.rindex(")") + 2:].split()
    if pid == root or fields[1] == root:  # fields[1] = ppid
        total += int(fields[11]) + int(fields[12])
print(total)
EOF
}
TICK=$(getconf CLK_TCK)
cat >"$TMP/boot.lua" <<'EOF'
-- Walks the (path, User-Agent) list; every request closes its connection.
local reqs = {}
local idx = 0
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  for line in io.lines(args[1]) do
    local path, ua = line:match("^([^\t]+)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("GET", path, { ["User-Agent"] = ua, ["Connection"] = "close" })
  end
  -- threads start at different places in the list
  idx = (id * 7919) % #reqs
end
function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.3f %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end
EOF

RESULTS=$TMP/results.tsv
: >"$RESULTS"
run_wrk() { # server label(http|https|https+resume) port conc
    local server=$1 scheme=$2 port=$3 conc=$4 la out preload url
    local pid=$AP_PID cpu0 cpu1
    [ "$server" = nginx ] && pid=$NG_PID
    # https: every connection a full handshake (the session is dropped
    # before each reconnect); https+resume: wrk resumes as it does by
    # default, against both servers' default resumption.
    preload=$TMP/noresume.so
    url="$scheme://127.0.0.1:$port"
    if [ "$scheme" = https+resume ]; then preload= url="https://127.0.0.1:$port"; fi
    la=$(load)
    cpu0=$(cpu_ticks "$pid")
    out=$(LD_PRELOAD="$preload" wrk -t "$THREADS" -c "$conc" -d "${DUR}s" --timeout 10s \
        -s "$TMP/boot.lua" "$url" -- "$TMP/requests.tsv" 2>&1) ||
        { echo "$out" >&2; die "wrk failed"; }
    cpu1=$(cpu_ticks "$pid")
    local line
    line=$(echo "$out" | grep '^RESULT ' | tail -1)
    [ -n "$line" ] || { echo "$out" >&2; die "no RESULT line from wrk"; }
    # requests duration_us p50_ms p99_ms socket_errors non2xx bytes
    set -- $line
    local rps cpu
    rps=$(python3 -c "print('%.0f' % ($2 / ($3 / 1e6)))")
    # server CPU per completed request, microseconds
    cpu=$(python3 -c "print('%.0f' % (($cpu1 - $cpu0) / $TICK * 1e6 / max($2, 1)))")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scheme" "$conc" "$server" "$rps" "$4" "$5" "$6" "$7" "$cpu" "$la" >>"$RESULTS"
    log "$(printf '%-5s c=%-5s %-8s %8s req/s  p50 %7s ms  p99 %8s ms  errors %s  non-2xx %s  server CPU %s us/req  (load %s)' \
        "$scheme" "$conc" "$server" "$rps" "$4" "$5" "$6" "$7" "$cpu" "$la")"
    sleep 2 # let sockets in TIME_WAIT/FIN states settle between runs
}

RSS_BEFORE=$(awk '/VmRSS/ {print $2}' "/proc/$AP_PID/status")
if [ "$WRK" = 1 ]; then
    log "load: wrk -t$THREADS, ${DUR}s per run, concurrency: $CONCS; new connection per request"
    for conc in $CONCS; do
        for scheme in http https https+resume; do
            if [ "$scheme" = http ]; then ap=$AP_HTTP ng=$NG_HTTP; else ap=$AP_HTTPS ng=$NG_HTTPS; fi
            run_wrk autoprov "$scheme" "$ap" "$conc"
            run_wrk nginx "$scheme" "$ng" "$conc"
        done
    done
fi

# --- 3b. the boot storm as phones do it: open loop, h2load ---------------------------
# wrk above is a closed loop: each of its C connections waits for its answer
# before the next request, so latency ~ C / req/s (Little's law) whatever the
# server. Phones are not a closed loop: each boots on its own, opens a new
# connection, fetches its 2 files on it and is done; a slow server does not
# slow the arrivals down. h2load's rate mode does exactly that: every rate
# period it starts R new clients (connections), each makes n/c = 2 requests
# (HTTP/1.1 keep-alive, as phones do) and closes; over HTTPS each is a full
# handshake (h2load never resumes). Latency is measured per request
# (--log-file), from the request write to the end of the response; the
# connect + handshake shows in h2load's "time to 1st byte" (mean/max).
# Scenarios, each for autoprov and nginx alternating, over HTTP and HTTPS:
#  - burst: STORM_BURST phones (default 1,000) start at the same instant,
#    again every second, until STORM_PHONES (default 10,000) have booted:
#    "1,000 phones booting at once" after a power cut;
#  - rate R: R phones per second arriving evenly (R/100 every 10 ms), for
#    each R in STORM_RATES (default "1000 3000"; HTTPS: STORM_RATES_TLS,
#    default "200 600"): a steady stream below the servers' ceilings, where
#    p99 shows the server's own tail rather than a queue.
# req/s is completed requests over the run's span: the offered load unless
# the server falls behind.
# Limit: h2load sends every client the same URI list, so all simulated
# phones fetch one Yealink phone's 2 files (its common and per-MAC file,
# with its User-Agent); the wrk runs above walk all N distinct phones.
STORM=$TMP/storm.tsv
: >"$STORM"
if [ "$STORM_PHONES" -gt 0 ]; then
    STORM_UA=$(grep -m1 '^/y0000000000' "$TMP/requests.tsv" | cut -f2)
    STORM_MAC=$(echo "$STORM_UA" | awk '{print $NF}' | tr -d ':')
    STORM_FILES="$(grep -m1 '^/y0000000000' "$TMP/requests.tsv" | cut -f1) /$STORM_MAC.cfg"
    grep -q "^/$STORM_MAC.cfg	" "$TMP/requests.tsv" || die "no per-MAC file for the storm phone $STORM_MAC"
    log "boot storm (h2load): $STORM_PHONES phones x 2 files of one Yealink phone ($STORM_FILES), UA '$STORM_UA'"
fi

run_storm() { # server scheme port scenario(burst|rate) value
    local server=$1 scheme=$2 port=$3 kind=$4 value=$5 la out rate period logf
    if [ "$kind" = burst ]; then rate=$value period=1s; else rate=$((value / 100)) period=10ms; fi
    [ "$rate" -ge "$THREADS" ] || die "storm rate $value too low for $THREADS threads"
    local uris=()
    for f in $STORM_FILES; do uris+=("$scheme://127.0.0.1:$port$f"); done
    logf=$TMP/storm-$server-$scheme-$kind-$value.log
    la=$(load)
    out=$(h2load --h1 -t "$THREADS" -c "$STORM_PHONES" -n $((2 * STORM_PHONES)) -m 1 \
        --rate "$rate" --rate-period "$period" -H "User-Agent: $STORM_UA" \
        --log-file "$logf" "${uris[@]}" 2>&1) || { echo "$out" >&2; die "h2load failed"; }
    echo "$out" >"$logf.out"
    python3 - "$logf" "$server" "$scheme" "$kind" "$value" "$la" "$STORM_PHONES" >>"$STORM" <<'EOF'
import math, sys
logf, server, scheme, kind, value, la, phones = sys.argv[1:]
out = open(logf + ".out").read()
rows = [l.split("\t") for l in open(logf) if l.strip()]
durs = sorted(int(r[2]) for r in rows if int(r[1]) > 0)
ok = sum(1 for r in rows if 200 <= int(r[1]) < 300)
failed = 2 * int(phones) - ok  # non-2xx, failed streams (-1) and requests never made

def pct(p):  # nearest rank, ms
    return durs[max(0, math.ceil(p / 100 * len(durs)) - 1)] / 1000 if durs else float("nan")

start = min((int(r[0]) for r in rows), default=0)
end = max((int(r[0]) + int(r[2]) for r in rows), default=1)
rps = len(rows) / max((end - start) / 1e6, 1e-9)

def ms(v):  # h2load prints 123us / 4.56ms / 1.2s
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    return float("nan")

# "time to 1st byte:   min   max   mean   sd   +/- sd": from connect start
ttfb = next((l.split(":", 1)[1].split() for l in out.splitlines() if l.startswith("time to 1st byte")), [])
t_max, t_mean = (ms(ttfb[1]), ms(ttfb[2])) if len(ttfb) >= 3 else (float("nan"),) * 2
print("\t".join([scheme, kind, value, server, "%.0f" % rps, "%.2f" % pct(50), "%.2f" % pct(99),
                 "%.2f" % (durs[-1] / 1000 if durs else float("nan")), str(ok), str(failed),
                 "%.1f" % t_mean, "%.1f" % t_max, la]))
print("bench-serve: %-5s %-5s %-5s %-8s %6.0f req/s  p50 %6.2f ms  p99 %7.2f ms  max %7.2f ms  ok %d  failed %d"
      "  conn+1st byte mean/max %.1f/%.1f ms  (load %s)"
      % (scheme, kind, value, server, rps, pct(50), pct(99), durs[-1] / 1000 if durs else float("nan"),
         ok, failed, t_mean, t_max, la), file=sys.stderr)
EOF
    sleep 2
}

if [ "$STORM_PHONES" -gt 0 ]; then
    command -v h2load >/dev/null || die "h2load missing"
    for scheme in http https; do
        if [ "$scheme" = http ]; then ap=$AP_HTTP ng=$NG_HTTP; else ap=$AP_HTTPS ng=$NG_HTTPS; fi
        run_storm autoprov "$scheme" "$ap" burst "$STORM_BURST"
        run_storm nginx "$scheme" "$ng" burst "$STORM_BURST"
        rates=$STORM_RATES
        [ "$scheme" = https ] && rates=$STORM_RATES_TLS
        for r in $rates; do
            run_storm autoprov "$scheme" "$ap" rate "$r"
            run_storm nginx "$scheme" "$ng" rate "$r"
        done
    done
fi
RSS_AFTER=$(awk '/VmRSS/ {print $2}' "/proc/$AP_PID/status")
HWM_AFTER=$(awk '/VmHWM/ {print $2}' "/proc/$AP_PID/status")
kill -0 "$AP_PID" 2>/dev/null || die "autoprov died during the load"
NG_REQS=$(wc -l <"$TMP/nginx/logs/access.log")
stop_pid "$AP_PID"
stop_pid "$NG_PID"

# --- 4. memory with RSS_N phones -------------------------------------------------
if [ "$RSS_N" -gt 0 ]; then
log "memory: importing $RSS_N users with phones"
import_users "$RSS_N" "$TMP/data-rss" "$TMP/users-rss.csv"
start_autoprov "$TMP/data-rss" "$TMP/serve-rss.log"
RSS_PID=$SERVE_PID
RSS_IDLE=$(awk '/VmRSS/ {print $2}' "/proc/$RSS_PID/status")
python3 - "$TMP/users-rss.csv" "$HTTP_PORT" "$HTTPS_PORT" "$TMP/data-rss/certs/ca.pem" <<'EOF'
import csv, http.client, ssl, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
ctx = ssl.create_default_context(cafile=sys.argv[4])
ok = 0
step = max(1, len(rows) // 1000)
for i, row in enumerate(rows[::step][:1000]):
    mac = "".join(c for c in row["mac"] if c.isalnum()).lower()
    vendor = row["phone_model"].split("-")[0]
    name = {"yealink": mac + ".cfg", "polycom": mac + "-phone.cfg", "cisco": mac + ".xml",
            "grandstream": "cfg%s.xml" % mac, "fanvil": mac + ".cfg",
            "snom": "snom%s-%s.htm" % (row["phone_model"].split("-")[1].upper(), mac.upper())}[vendor]
    for tls in (False, True):
        c = (http.client.HTTPSConnection("127.0.0.1", int(sys.argv[3]), context=ctx) if tls
             else http.client.HTTPConnection("127.0.0.1", int(sys.argv[2])))
        c.request("GET", "/" + name)
        r = c.getresponse()
        r.read()
        ok += r.status == 200
        c.close()
print("bench-serve: memory sample: %d of %d fetches answered 200" % (ok, 2 * len(rows[::step][:1000])),
      file=sys.stderr)
EOF
RSS_100K=$(awk '/VmRSS/ {print $2}' "/proc/$RSS_PID/status")
HWM_100K=$(awk '/VmHWM/ {print $2}' "/proc/$RSS_PID/status")
stop_pid "$RSS_PID"
fi

# --- report -----------------------------------------------------------------------
echo
echo "autoprov serve vs nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), boot storm of $N phones x 2 files, new connection per request"
echo "host: $(nproc) cores, $(uname -r); load tool: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), -t$THREADS, ${DUR}s per run"
echo "command: scripts/bench-serve.sh $N  (BENCH_WRK=$WRK BENCH_CONCURRENCY=\"$CONCS\" BENCH_DURATION=$DUR BENCH_RSS_N=$RSS_N BENCH_STORM_PHONES=$STORM_PHONES BENCH_STORM_BURST=$STORM_BURST BENCH_STORM_RATES=\"$STORM_RATES\" BENCH_STORM_RATES_TLS=\"$STORM_RATES_TLS\")"
echo "nginx access log lines written: $NG_REQS"
python3 - "$RESULTS" "$STRICT" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
if not rows:
    open(sys.argv[1] + ".missed", "w").write("")
    sys.exit(0)
print()
print("wrk, closed loop (throughput; latency here is ~ conc / req/s by Little's law, see the storm table for p99):")
res = {}
for scheme, conc, server, rps, p50, p99, errs, non2xx, cpu, la in rows:
    res[(scheme, int(conc), server)] = (int(rps), float(p50), float(p99), int(errs), int(non2xx),
                                        la.split()[0], int(cpu))
print()
print("| scheme | conc | autoprov req/s | nginx req/s | ratio | autoprov p50 / p99 ms | nginx p50 / p99 ms"
      " | autoprov err / non-2xx | nginx err / non-2xx | server CPU us/req (ap / ng) | load 1 min (ap / ng) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
missed = []
concs = sorted({k[1] for k in res})
for scheme in ("http", "https", "https+resume"):
    for c in concs:
        a, n = res[(scheme, c, "autoprov")], res[(scheme, c, "nginx")]
        ratio = a[0] / n[0] if n[0] else float("nan")
        print("| %s | %d | %d | %d | %.0f %% | %.2f / %.2f | %.2f / %.2f | %d / %d | %d / %d | %d / %d | %s / %s |"
              % (scheme.upper(), c, a[0], n[0], 100 * ratio, a[1], a[2], n[1], n[2], a[3], a[4], n[3], n[4],
                 a[6], n[6], a[5], n[5]))
        if ratio < 0.70:
            missed.append("%s c=%d: %.0f %% of nginx req/s (target >= 70 %%)" % (scheme.upper(), c, 100 * ratio))
        if a[3] or a[4]:
            missed.append("%s c=%d: %d socket errors, %d non-2xx" % (scheme.upper(), c, a[3], a[4]))
open(sys.argv[1] + ".missed", "w").write("".join(m + "\n" for m in missed))
EOF
if [ -s "$STORM" ]; then
    echo
    echo "boot storm, open loop: h2load $(h2load --version 2>&1 | head -1 | awk '{print $NF}') --h1 -t$THREADS, $STORM_PHONES phones, each a new connection"
    echo "(a full TLS handshake over HTTPS) fetching its 2 files, then closing; latency per request."
    echo "burst = $STORM_BURST phones starting at the same instant, once a second; rate = phones/s arriving evenly."
    echo "exact command: h2load --h1 -t $THREADS -c $STORM_PHONES -n $((2 * STORM_PHONES)) -m 1 --rate R --rate-period P \\"
    echo "    -H 'User-Agent: $STORM_UA' --log-file F <scheme>://127.0.0.1:<port>${STORM_FILES// / <scheme>://127.0.0.1:<port>}"
    echo "  (burst: R=$STORM_BURST P=1s; rate X: R=X/100 P=10ms)"
    python3 - "$STORM" <<'EOF' >>"$RESULTS.missed"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
res = {}
for scheme, kind, value, server, rps, p50, p99, mx, ok, failed, tmean, tmax, la in rows:
    res[(scheme, kind, int(value), server)] = (int(rps), float(p50), float(p99), float(mx), int(ok), int(failed),
                                               float(tmean), float(tmax), la.split()[0])
print(file=sys.stderr)
print("| scheme | scenario | autoprov req/s | nginx req/s | autoprov p50 / p99 / max ms | nginx p50 / p99 / max ms"
      " | autoprov / nginx failed | conn+1st byte mean / max ms (ap; ng) | load 1 min (ap / ng) |", file=sys.stderr)
print("|---|---|---|---|---|---|---|---|---|", file=sys.stderr)
missed = []
for (scheme, kind, value, server) in sorted(res, key=lambda k: (k[0], k[1] != "burst", k[2])):
    if server != "autoprov":
        continue
    a, n = res[(scheme, kind, value, "autoprov")], res[(scheme, kind, value, "nginx")]
    what = "%s %d" % (kind, value)
    print("| %s | %s | %d | %d | %.2f / %.2f / %.1f | %.2f / %.2f / %.1f | %d / %d | %.1f / %.1f; %.1f / %.1f | %s / %s |"
          % (scheme.upper(), what, a[0], n[0], a[1], a[2], a[3], n[1], n[2], n[3], a[5], n[5],
             a[6], a[7], n[6], n[7], a[8], n[8]), file=sys.stderr)
    if kind == "burst" and value >= 1000 and a[2] >= 50:
        missed.append("%s %d phones at once: p99 %.1f ms (target < 50 ms; nginx %.1f ms)"
                      % (scheme.upper(), value, a[2], n[2]))
    if a[5]:
        missed.append("%s %s: %d requests failed" % (scheme.upper(), what, a[5]))
if missed:
    print("\n".join(missed))
EOF
fi 2>&1
echo
echo "autoprov RSS with $N phones: ${RSS_BEFORE} kB before the load, ${RSS_AFTER} kB after (peak VmHWM ${HWM_AFTER} kB)"
MISSED=$(grep -v '^$' "$RESULTS.missed" || true)
if [ "$RSS_N" -gt 0 ]; then
echo "autoprov RSS with $RSS_N phones: ${RSS_IDLE} kB after start, ${RSS_100K} kB after 2,000 fetches (VmRSS), peak VmHWM ${HWM_100K} kB; target < 200 MB"
fi
if [ "$RSS_N" -gt 0 ] && [ "$HWM_100K" -ge 204800 ]; then
    MISSED="$MISSED${MISSED:+$'\n'}memory: peak ${HWM_100K} kB with $RSS_N phones (target < 200 MB)"
fi
echo "notes: wrk and both servers share the machine's cores; every HTTPS request is a full TLS handshake"
echo "       (wrk preloaded without session resumption), except the HTTPS+RESUME rows, where wrk resumes against both servers' defaults;"
echo "       wrk latency starts at the request write"
echo "       (after connect and TLS handshake), so handshake cost shows in req/s, not in p50/p99."
echo "load average at the end: $(load)"
if [ -n "$MISSED" ]; then
    echo
    echo "TARGETS MISSED:"
    echo "$MISSED" | sed 's/^/  - /'
    [ "$STRICT" = 1 ] && exit 1
else
    echo "all targets met"
fi
exit 0

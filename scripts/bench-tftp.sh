#!/usr/bin/env bash
# TFTP boot-storm benchmark: autoprov's TFTP listener against tftpd-hpa
# (`in.tftpd`) serving the same files, in the same run. Prints figures.
#
# Usage: scripts/bench-tftp.sh [N]        (default N=1000 phones)
#
#  1. builds `cargo build --release` (unless BENCH_BIN names a binary),
#     generates N users with one phone each (scripts/gen_users.py: all six
#     vendors), imports them and starts `autoprov serve --tftp` on loopback;
#  2. fetches each phone's 2 boot files over plain HTTP with no
#     User-Agent (what a TFTP request becomes inside autoprov: the same
#     bootstrap bytes) and writes them into DIR; starts
#     `in.tftpd --listen --foreground --address 127.0.0.1:PORT --secure DIR`;
#  3. drives both, alternating, BENCH_ROUNDS times (default 2) with the same
#     client: N phones at once (asyncio, one UDP socket per transfer), each
#     from its own loopback address 127.1.x.y (as real phones: one address
#     each, so autoprov's per-source limit of 8 does not bind), fetching its
#     2 files one after the other with `blksize 1428` and `tsize 0` as
#     phones ask, ACKing every block, retransmitting its last packet after
#     1 s (5 tries). Every file received is compared with DIR's copy.
#     Prints transfers/s (2N over the wall time from the first request to
#     the last ACK), p50/p99 of the per-transfer time (RRQ sent to last ACK
#     sent), failures and mismatches, and the 1-minute load average before
#     each run.
# Everything runs on 127.0.0.1 and is removed on exit (trap).
#
# Caveats: client and servers share the machine's cores, and the client is
# Python: its per-packet cost is in every figure, for both servers alike.
#
# Env: BENCH_BIN=/path/to/autoprov skips the build; BENCH_KEEP=1 keeps the
# temp dir. Needs: python3, curl, in.tftpd (Debian tftpd-hpa), root (to
# start in.tftpd, which drops to its own user).
set -euo pipefail

N=${1:-1000}
ROUNDS=${BENCH_ROUNDS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/bench-tftp.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
log() { echo "bench-tftp: $*" >&2; }
die() { log "$*"; exit 1; }
free_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

command -v in.tftpd >/dev/null || die "in.tftpd missing (apt-get install tftpd-hpa)"
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    (cd "$ROOT" && cargo build --release --bin autoprov) || die "cargo build --release failed"
    BIN=$ROOT/target/release/autoprov
fi

# --- 1. data + autoprov --------------------------------------------------------
log "importing $N users"
python3 "$ROOT/scripts/gen_users.py" "$N" "$TMP/users.csv"
"$BIN" --data "$TMP/data" import "$TMP/users.csv" --no-progress >"$TMP/import.log" 2>&1 ||
    die "import failed (see $TMP/import.log)"
AP_TFTP=$(free_port)
"$BIN" --data "$TMP/data" serve --http 127.0.0.1:0 --https 127.0.0.1:0 --admin off \
    --tftp "127.0.0.1:$AP_TFTP" >"$TMP/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on tftp://" "$TMP/serve.log" && break; sleep 0.1; done
AP_HTTP=$(sed -n 's|^autoprov: listening on http://127.0.0.1:||p' "$TMP/serve.log")
[ -n "$AP_HTTP" ] || die "autoprov did not start: $(cat "$TMP/serve.log")"

# --- 2. the same files for tftpd-hpa -----------------------------------------------
log "fetching 2 x $N files over HTTP for tftpd-hpa's directory"
mkdir -p "$TMP/dir"
chmod 755 "$TMP/dir"
python3 - "$TMP/users.csv" "$TMP" "$AP_HTTP" <<'EOF'
import csv, http.client, os, sys
users_csv, tmp, port = sys.argv[1:]

def boot_files(model, mac):
    """The two files a phone asks for first (as scripts/bench-serve.sh)."""
    lo, up = mac.lower(), mac.upper()
    vendor, name = model.split("-", 1)
    return {
        "yealink": ["y000000000096.cfg", lo + ".cfg"],
        "polycom": ["000000000000.cfg", lo + ".cfg"],
        "cisco": [name + ".xml", lo + ".xml"],
        "grandstream": ["cfg%s.xml" % lo, "cfg.xml"],
        "snom": ["snom%s.htm" % name.upper(), "snom%s-%s.htm" % (name.upper(), up)],
        "fanvil": ["f0X4hw1.100.cfg", lo + ".cfg"],
    }[vendor]

conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
plan, bad = [], []
with open(users_csv, encoding="utf-8", newline="") as f:
    for row in csv.DictReader(f):
        mac = "".join(c for c in row["mac"] if c.isalnum())
        files = boot_files(row["phone_model"], mac)
        for name in files:
            conn.request("GET", "/" + name)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                bad.append("%s -> %d" % (name, r.status))
                continue
            with open(os.path.join(tmp, "dir", name), "wb") as out:
                out.write(body)
            os.chmod(os.path.join(tmp, "dir", name), 0o644)
        plan.append(" ".join(files))
if bad:
    sys.exit("not served over HTTP without a User-Agent: %s" % bad[:10])
with open(os.path.join(tmp, "plan.txt"), "w") as f:
    f.write("\n".join(plan) + "\n")
EOF
HPA_TFTP=$(free_port)
in.tftpd --listen --foreground --address "127.0.0.1:$HPA_TFTP" --secure "$TMP/dir" &
PIDS+=($!)
sleep 0.5

# --- 3. the storm ------------------------------------------------------------------
cat >"$TMP/client.py" <<'EOF'
import asyncio, os, struct, sys, time

port, plan_file, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BLKSIZE, TIMEOUT, TRIES = 1428, 1.0, 5
plans = [l.split() for l in open(plan_file) if l.strip()]

class Transfer(asyncio.DatagramProtocol):
    def __init__(self, name):
        self.name, self.data, self.block = name, bytearray(), 0
        self.last_sent, self.peer = None, None
        self.done = asyncio.get_running_loop().create_future()
        self.t0 = time.perf_counter()
    def connection_made(self, t):
        self.t = t
        rrq = (struct.pack(">H", 1) + self.name.encode() + b"\0octet\0blksize\0%d\0tsize\x000\0" % BLKSIZE)
        self.send(rrq, ("127.0.0.1", port))
    def send(self, pkt, addr):
        self.last_sent = (pkt, addr)
        self.t.sendto(pkt, addr)
    def datagram_received(self, d, addr):
        if self.done.done() or len(d) < 4:
            return
        op, n = struct.unpack(">HH", d[:4])
        if self.peer is None:
            self.peer = addr
        if op == 6:  # OACK
            self.blk = BLKSIZE
            for k, v in zip(*[iter(d[2:].split(b"\0"))] * 2):
                if k.lower() == b"blksize":
                    self.blk = int(v)
            self.send(struct.pack(">HH", 4, 0), addr)
        elif op == 3:
            if n == (self.block + 1) % 65536:
                self.block = n
                self.data += d[4:]
                self.send(struct.pack(">HH", 4, n), addr)
                if len(d) - 4 < getattr(self, "blk", 512):
                    self.t.close()
                    self.done.set_result(time.perf_counter() - self.t0)
            else:
                self.send(struct.pack(">HH", 4, self.block), addr)
        elif op == 5:
            self.t.close()
            self.done.set_exception(RuntimeError("error %d %r" % (n, d[4:-1])))

async def fetch(ip, name):
    loop = asyncio.get_running_loop()
    t, p = await loop.create_datagram_endpoint(lambda: Transfer(name), local_addr=(ip, 0))
    for _ in range(TRIES):
        try:
            return await asyncio.wait_for(asyncio.shield(p.done), TIMEOUT), bytes(p.data)
        except asyncio.TimeoutError:
            if p.done.done():
                break
            t.sendto(*p.last_sent)
    t.close()
    raise RuntimeError("timed out")

async def phone(i, files, times, errors):
    ip = "127.1.%d.%d" % (i // 250, i % 250 + 1)
    for name in files:
        try:
            took, data = await fetch(ip, name)
            times.append(took)
            if data != open(os.path.join(root, name), "rb").read():
                errors.append("mismatch " + name)
        except Exception as e:
            errors.append("%s: %s" % (name, e))

async def main():
    times, errors = [], []
    t0 = time.perf_counter()
    await asyncio.gather(*(phone(i, f, times, errors) for i, f in enumerate(plans)))
    wall = time.perf_counter() - t0
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1000 if times else float("nan")
    print("%d %.0f %.1f %.1f %d %s" % (len(times), len(times) / wall, q(0.5), q(0.99), len(errors),
                                       (errors[:3] if errors else "")))

asyncio.run(main())
EOF
RESULTS=$TMP/results.txt
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
    for server in autoprov tftpd-hpa; do
        port=$AP_TFTP
        [ "$server" = tftpd-hpa ] && port=$HPA_TFTP
        la=$(cut -d' ' -f1 /proc/loadavg)
        out=$(python3 "$TMP/client.py" "$port" "$TMP/plan.txt" "$TMP/dir")
        read -r done rate p50 p99 errs rest <<<"$out"
        printf '%s round %d: %s transfers, %s transfers/s, p50 %s ms, p99 %s ms, %s failed %s (load %s)\n' \
            "$server" "$round" "$done" "$rate" "$p50" "$p99" "$errs" "$rest" "$la" | tee -a "$RESULTS"
        sleep 2
    done
done
log "done: $N phones x 2 files, blksize 1428, $ROUNDS rounds"

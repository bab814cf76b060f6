#!/usr/bin/env python3
"""A DHCP relay agent with many phones behind it, for autoprov's two-node test.

usage: relay_clients.py GIADDR COUNT SERVER_A SERVER_B
Runs COUNT clients (MACs 80:5e:c0:01:HH:LL, k = FIRST..FIRST+COUNT-1, FIRST
from the environment, default 0) through
DISCOVER/OFFER/REQUEST/ACK as a relay agent at GIADDR would (RFC 2131 §4.1,
RFC 1542: giaddr set, hops 1, sent from and answered to port 67), every
packet relayed to both servers as `ip helper-address` with two helpers does.
Client k takes the offer of server k % 2, so both servers bind addresses;
a NAK sends the client back to DISCOVER. With SPLIT=1 in the environment a
client's packets go to its own server only (two relays, one helper each):
the servers then allocate without seeing each other's offers, and only the
database's conditional claim keeps them apart. Plain sockets: one process for
thousands of clients. Prints one JSON line:
{"acks": {"k": ["ip", "server"]}, "naks": n, "rounds": r}
"""
import json, socket, struct, sys, time

giaddr, count = sys.argv[1], int(sys.argv[2])
servers = sys.argv[3:5]
split = __import__("os").environ.get("SPLIT") == "1"
first = int(__import__("os").environ.get("FIRST", "0"))
MAGIC = b"\x63\x82\x53\x63"

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((giaddr, 67))
s.settimeout(0.3)


def mac(k):
    return bytes([0x80, 0x5E, 0xC0, 0x01, k >> 8, k & 0xFF])


def packet(k, mtype, opts=b""):
    head = struct.pack("!BBBBIHH", 1, 1, 6, 1, 0x51000000 + k, 0, 0)
    head += b"\0" * 12 + socket.inet_aton(giaddr) + mac(k) + b"\0" * 10 + b"\0" * 192
    return head + MAGIC + bytes([53, 1, mtype]) + bytes([60, 7]) + b"yealink" + opts + b"\xff"


def parse(raw):
    if len(raw) < 240 or raw[0] != 2:
        return None
    k = struct.unpack("!I", raw[4:8])[0] - 0x51000000
    opts, i = {}, 240
    while i < len(raw) and raw[i] != 255:
        if raw[i] == 0:
            i += 1
            continue
        opts[raw[i]] = raw[i + 2:i + 2 + raw[i + 1]]
        i += 2 + raw[i + 1]
    mtype = opts.get(53, b"\0")[0]
    sid = socket.inet_ntoa(opts[54]) if len(opts.get(54, b"")) == 4 else ""
    return k, mtype, socket.inet_ntoa(raw[16:20]), sid


def send_all(packets):
    for n, (k, p) in enumerate(packets):
        for srv in [servers[k % 2]] if split else servers:
            s.sendto(p, (srv, 67))
        if n % 50 == 49:
            time.sleep(0.005)


def collect(want, done):
    """Replies until `done` says so or a second passes without one."""
    quiet = time.time()
    while time.time() - quiet < 1.0 and not done():
        try:
            raw, _ = s.recvfrom(4096)
        except socket.timeout:
            continue
        r = parse(raw)
        if r and first <= r[0] < first + count:
            quiet = time.time()
            want(*r)


pending, acks, naks, rounds = set(range(first, first + count)), {}, 0, 0
while pending and rounds < 12:
    rounds += 1
    offers = {}

    def offered(k, mtype, ip, sid):
        if mtype == 2 and k in pending and sid == servers[k % 2]:
            offers[k] = ip

    send_all([(k, packet(k, 1)) for k in sorted(pending)])
    collect(offered, lambda: len(offers) == len(pending))
    asked = set(offers)

    def answered(k, mtype, ip, sid):
        global naks
        if k not in asked or sid != servers[k % 2]:
            return
        asked.discard(k)
        if mtype == 5:
            acks[str(k)] = [ip, sid]
            pending.discard(k)
        elif mtype == 6:
            naks += 1

    send_all([
        (k, packet(k, 3, bytes([54, 4]) + socket.inet_aton(servers[k % 2])
                   + bytes([50, 4]) + socket.inet_aton(ip)))
        for k, ip in sorted(offers.items())
    ])
    collect(answered, lambda: not asked)

print(json.dumps({"acks": acks, "naks": naks, "rounds": rounds}))

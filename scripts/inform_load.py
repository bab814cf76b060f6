#!/usr/bin/env python3
"""Open-loop DHCPINFORM load (perfdhcp cannot send INFORM).

usage: inform_load.py LOCAL_IP SERVER_IP RATE SECONDS [MACS]

Sends RATE INFORMs a second for SECONDS from LOCAL_IP:68 to SERVER_IP:67,
each from one of MACS Yealink-OUI addresses (default 50000) with ciaddr =
LOCAL_IP, option 60 "yealink", and counts the DHCPACKs that come back to
port 68 (matched by xid). Prints one JSON line: sent, answered, answered/s,
p50/p99 latency in ms. Run inside the client namespace.
"""
import json, os, random, socket, struct, sys, threading, time

local, server, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
macs = int(sys.argv[5]) if len(sys.argv) > 5 else 50000

ci = socket.inet_aton(local)
opts = bytes([53, 1, 8, 60, 7]) + b"yealink" + bytes([55, 3, 1, 66, 67, 255])

def packet(xid, n):
    mac = bytes([0x80, 0x5e, 0xc0, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF])
    return (struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, 0) + ci + b"\0" * 12
            + mac + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63" + opts)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((local, 68))
sent_at = {}
latencies = []
answered = 0
stop = False

def receive():
    global answered
    s.settimeout(0.2)
    while not stop:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        if len(data) < 240 or data[0] != 2:
            continue
        xid = struct.unpack("!I", data[4:8])[0]
        t = sent_at.pop(xid, None)
        if t is not None:
            answered += 1
            latencies.append(time.perf_counter() - t)

rx = threading.Thread(target=receive)
rx.start()
start = time.perf_counter()
total = int(rate * seconds)
xid0 = random.randint(1, 2**31)
for i in range(total):
    due = start + i / rate
    now = time.perf_counter()
    if due > now:
        time.sleep(due - now)
    xid = (xid0 + i) & 0xFFFFFFFF
    sent_at[xid] = time.perf_counter()
    s.sendto(packet(xid, i % macs), (server, 67))
elapsed = time.perf_counter() - start
time.sleep(1.0)
stop = True
rx.join()
latencies.sort()
pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else None
print(json.dumps({"offered_per_s": rate, "sent": total, "send_seconds": round(elapsed, 2),
                  "answered": answered, "answered_per_s": round(answered / seconds, 1),
                  "p50_ms": pick(0.5), "p99_ms": pick(0.99)}))

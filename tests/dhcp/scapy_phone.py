#!/usr/bin/env python3
"""Impersonate an IP phone for autoprov's DHCP test (run inside the phone netns).

usage: scapy_phone.py IFACE MAC TYPE VENDOR_CLASS_HEX CIADDR [WAIT]
  TYPE: inform | discover | request | release | decline;
  VENDOR_CLASS_HEX: '' for no option 60.
Environment (optional): REQ_IP (option 50), SERVER_ID (option 54), and for
a relayed packet GIADDR (sent from that address to SERVER, port 67, reply
expected on port 67) with AGENT_HEX (option 82).
Prints one JSON line: {"reply": null} or {"reply": {"type": n, "dst": ip,
"yiaddr": ip, "options": {"66": "hex", ...}}}. Options are read from the raw
frame, not from scapy's dissection, so the bytes are exactly the server's.
"""
import json, random, struct, sys, time
from scapy.all import Ether, IP, UDP, Raw, AsyncSniffer, sendp, conf, mac2str

conf.verb = 0
iface, mac, kind, vclass_hex, ciaddr = sys.argv[1:6]
wait = float(sys.argv[6]) if len(sys.argv) > 6 else 4.0
xid = random.randint(1, 2**32 - 1)
hw = mac2str(mac)
msg_type = {"inform": 8, "discover": 1, "request": 3, "release": 7, "decline": 4}[kind]
env = __import__("os").environ
giaddr = env.get("GIADDR", "0.0.0.0")
relayed = giaddr != "0.0.0.0"
dotted = lambda a: bytes(int(x) for x in a.split("."))

opts = bytes([53, 1, msg_type])
if vclass_hex:
    v = bytes.fromhex(vclass_hex)
    opts += bytes([60, len(v)]) + v
opts += bytes([61, 7, 1]) + hw
opts += bytes([55, 4, 1, 3, 6, 15])       # deliberately not asking for 66/67/150/160/43
for code, name in ((50, "REQ_IP"), (54, "SERVER_ID")):
    if env.get(name):
        opts += bytes([code, 4]) + dotted(env[name])
if env.get("AGENT_HEX"):
    agent = bytes.fromhex(env["AGENT_HEX"])
    opts += bytes([82, len(agent)]) + agent
opts += b"\xff"
ci = bytes(int(x) for x in ciaddr.split("."))
bootp = (struct.pack("!BBBBIHH", 1, 1, 6, 1 if relayed else 0, xid, 0, 0) + ci
         + b"\0" * 8 + dotted(giaddr) + hw + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63" + opts)
if relayed:
    ip = IP(src=giaddr, dst=env.get("SERVER", "255.255.255.255"))
    udp = UDP(sport=67, dport=67)
else:
    ip = IP(src=ciaddr, dst="255.255.255.255")
    udp = UDP(sport=68, dport=67)
frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ip / udp / Raw(bootp)

def ours(p):
    if UDP not in p or p[UDP].sport != 67:
        return False
    raw = bytes(p[UDP].payload)
    return len(raw) >= 240 and raw[0] == 2 and struct.unpack("!I", raw[4:8])[0] == xid

sniffer = AsyncSniffer(iface=iface, lfilter=ours, count=1, store=True)
sniffer.start()
time.sleep(0.5)
sendp(frame, iface=iface)
deadline = time.time() + wait
while time.time() < deadline and not sniffer.results:
    time.sleep(0.05)
if sniffer.running:
    sniffer.stop()
got = sniffer.results or []
if not got:
    print(json.dumps({"reply": None}))
    sys.exit(0)
p = got[0]
raw = bytes(p[UDP].payload)
options, i, mtype = {}, 240, None
while i < len(raw):
    code = raw[i]
    if code == 255:
        break
    if code == 0:
        i += 1
        continue
    ln = raw[i + 1]
    data = raw[i + 2:i + 2 + ln]
    key = str(code)
    options[key] = options.get(key, "") + data.hex()
    if code == 53:
        mtype = data[0]
    i += 2 + ln
print(json.dumps({"reply": {"type": mtype, "dst": p[IP].dst,
                            "yiaddr": ".".join(str(b) for b in raw[16:20]),
                            "options": options}}))

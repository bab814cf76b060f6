#!/usr/bin/env python3
"""Many phones' DHCP exchanges at once, for autoprov's site test and bench
(run inside the phone netns, from tests/it/site and scripts/bench-site.sh).

usage: site_dhcp.py IFACE < phones.json
  phones.json: [{"mac": "80:5e:c0:..", "vclass_hex": "..", "giaddr": "0.0.0.0"
                 or a relay address, "server": "10.99.0.1"}, ...]
Each phone does DISCOVER -> OFFER -> REQUEST -> ACK with its own MAC
(chaddr, option 61) and option 60. Relayed phones (giaddr set) are sent as
a relay agent would: from giaddr, port 67, unicast to the server, with
option 82. One sniffer sees every reply; retries up to 4 times per phone.
Prints one JSON object: {"t_first": unix, "t_last": unix, "phones": {mac:
{"ip": ip, "options": {"66": hex, ...}} or null}}.
"""
import json, random, struct, sys, time
from scapy.all import Ether, IP, UDP, Raw, AsyncSniffer, sendp, conf, mac2str

conf.verb = 0
iface = sys.argv[1]
phones = json.load(sys.stdin)
dotted = lambda a: bytes(int(x) for x in a.split("."))


def frame(p, kind, xid, extra):
    hw = mac2str(p["mac"])
    relayed = p.get("giaddr", "0.0.0.0") != "0.0.0.0"
    opts = bytes([53, 1, kind])
    if p["vclass_hex"]:
        v = bytes.fromhex(p["vclass_hex"])
        opts += bytes([60, len(v)]) + v
    opts += bytes([61, 7, 1]) + hw + bytes([55, 4, 1, 3, 6, 15]) + extra
    if relayed:
        circuit = p["mac"].replace(":", "").encode()
        opts += bytes([82, len(circuit) + 2, 1, len(circuit)]) + circuit
    opts += b"\xff"
    bootp = (struct.pack("!BBBBIHH", 1, 1, 6, 1 if relayed else 0, xid, 0, 0x8000)
             + b"\0" * 12 + dotted(p.get("giaddr", "0.0.0.0")) + hw + b"\0" * 10
             + b"\0" * 192 + b"\x63\x82\x53\x63" + opts)
    if relayed:
        l3 = IP(src=p["giaddr"], dst=p["server"]) / UDP(sport=67, dport=67)
    else:
        l3 = IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
    return Ether(src=p["mac"], dst="ff:ff:ff:ff:ff:ff") / l3 / Raw(bootp)


def parse(raw):
    options, i = {}, 240
    while i < len(raw):
        code = raw[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        ln = raw[i + 1]
        options[str(code)] = options.get(str(code), "") + raw[i + 2:i + 2 + ln].hex()
        i += 2 + ln
    return options


replies = {}  # xid -> (type, yiaddr, options)


def seen(pkt):
    if UDP not in pkt or pkt[UDP].sport != 67:
        return
    raw = bytes(pkt[UDP].payload)
    if len(raw) < 240 or raw[0] != 2:
        return
    xid = struct.unpack("!I", raw[4:8])[0]
    opts = parse(raw)
    mtype = int(opts.get("53", "00"), 16)
    replies[(xid, mtype)] = (".".join(str(b) for b in raw[16:20]), opts)


sniffer = AsyncSniffer(iface=iface, prn=seen, store=False,
                       lfilter=lambda p: UDP in p and p[UDP].sport == 67)
sniffer.start()
time.sleep(0.5)
state = {p["mac"]: {"xid": random.randint(1, 2**32 - 1), "step": "discover"} for p in phones}
by_mac = {p["mac"]: p for p in phones}
t_first = time.time()
for attempt in range(4):
    # DISCOVERs for whoever has no OFFER yet.
    batch = [frame(by_mac[m], 1, s["xid"], b"") for m, s in state.items() if s["step"] == "discover"]
    if batch:
        sendp(batch, iface=iface, inter=0.002)
    deadline = time.time() + 3
    while time.time() < deadline:
        for m, s in state.items():
            if s["step"] == "discover" and (s["xid"], 2) in replies:
                s["offer"] = replies[(s["xid"], 2)]
                s["step"] = "request"
        if all(s["step"] != "discover" for s in state.values()):
            break
        time.sleep(0.05)
    batch = []
    for m, s in state.items():
        if s["step"] == "request":
            ip, opts = s["offer"]
            extra = bytes([50, 4]) + dotted(ip) + bytes([54, 4]) + bytes.fromhex(opts["54"])
            batch.append(frame(by_mac[m], 3, s["xid"], extra))
    if batch:
        sendp(batch, iface=iface, inter=0.002)
    deadline = time.time() + 3
    while time.time() < deadline:
        for m, s in state.items():
            if s["step"] == "request" and (s["xid"], 5) in replies:
                s["ack"] = replies[(s["xid"], 5)]
                s["step"] = "done"
                s["t"] = time.time()
        if all(s["step"] == "done" for s in state.values()
               if s["step"] != "discover") and not any(s["step"] == "request" for s in state.values()):
            break
        time.sleep(0.05)
    if all(s["step"] == "done" for s in state.values()):
        break
sniffer.stop()
out = {}
for m, s in state.items():
    out[m] = {"ip": s["ack"][0], "options": s["ack"][1]} if s["step"] == "done" else None
done = [s["t"] for s in state.values() if "t" in s]
print(json.dumps({"t_first": t_first, "t_last": max(done) if done else t_first, "phones": out}))

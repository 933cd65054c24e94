#!/usr/bin/env python3
"""Tagged traffic for the live-capture VLAN tests.

Usage:  python3 make_vlan.py OUT.pcap EXPECTED.json

OUT.pcap: classic pcap (Ethernet), every kind of tag stack Linux may take
apart on receive -- none, 802.1Q, QinQ with an 802.1Q or an 802.1ad outer
tag, and a 0x9100 outer tag (which the kernel leaves in the frame) -- on
IPv4/UDP, IPv4/TCP, IPv6/UDP and ARP, at frame sizes from the smallest to a
1500-byte IP packet under two tags (1522 bytes: the test raises the MTU).
No frame is cut: what is sent is what a capture must see.

EXPECTED.json comes from re-reading OUT.pcap and walking each frame with
struct, independently of the generator: packets, bytes, and decoded.{vlan,
ipv4, ipv6, udp, tcp, arp, other}, each frame counted at most once per key
(vlan: at least one tag of TPID 0x8100, 0x88a8 or 0x9100), and kernel_tags:
the frames whose outer tag Linux takes into metadata (TPID 0x8100, 0x88a8).
"""
import json
import struct
import sys

from scapy.all import ARP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6, PcapWriter, Raw

TPIDS = (0x8100, 0x88A8, 0x9100)


def stacks():
    """(name, function adding the tags to an Ether) for every stack."""
    yield "untagged", lambda e: e
    yield "dot1q", lambda e: e / Dot1Q(vlan=101, prio=3)
    yield "qinq-8100", lambda e: e / Dot1Q(vlan=200) / Dot1Q(vlan=201)
    yield "qinq-88a8", lambda e: e / Dot1AD(vlan=300) / Dot1Q(vlan=301)
    yield "q-9100", lambda e: (Ether(src=e.src, dst=e.dst, type=0x9100) / Dot1Q(vlan=401) / Dot1Q(vlan=402))


def frames():
    n = 0
    # IP packet sizes from a minimal one to a full 1500-byte one.
    sizes = [28, 46, 64, 100, 256, 511, 512, 999, 1024, 1400, 1472, 1500]
    for name, tag in stacks():
        for size in sizes:
            for kind in ("udp4", "tcp4", "udp6"):
                n += 1
                e = tag(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"))
                if kind == "udp4":
                    pay = max(0, size - 28)
                    l3 = IP(src="10.1.0.1", dst="10.1.0.%d" % (n % 200 + 2)) / UDP(sport=1024 + n, dport=53)
                elif kind == "tcp4":
                    pay = max(0, size - 40)
                    l3 = IP(src="10.2.0.1", dst="10.2.0.2") / TCP(sport=2000 + n, dport=80, flags="S")
                else:
                    pay = max(0, size - 48)
                    l3 = IPv6(src="fd00::1", dst="fd00::%x" % (n % 200 + 2)) / UDP(sport=3000 + n, dport=53)
                    if size - 48 < 0:
                        continue
                yield e / l3 / Raw(bytes(pay))
        yield tag(Ether(src="02:00:00:00:00:03", dst="ff:ff:ff:ff:ff:ff")) / ARP(psrc="10.9.0.1", pdst="10.9.0.2")


def count(path):
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    assert magic == 0xA1B2C3D4, "expected a little-endian microsecond pcap"
    at = 24
    c = {"packets": 0, "bytes": 0, "kernel_tags": 0,
         "decoded": {k: 0 for k in ("vlan", "ipv4", "ipv6", "udp", "tcp", "arp", "other")}}
    while at < len(data):
        _, _, caplen, wirelen = struct.unpack_from("<IIII", data, at)
        f = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        assert caplen == wirelen
        c["packets"] += 1
        c["bytes"] += caplen
        off = 12
        etype = struct.unpack_from("!H", f, off)[0]
        # The outer tags Linux moves into metadata on receive.
        if etype in (0x8100, 0x88A8):
            c["kernel_tags"] += 1
        tagged = False
        while etype in TPIDS:
            tagged = True
            off += 4
            etype = struct.unpack_from("!H", f, off)[0]
        off += 2
        d = c["decoded"]
        if tagged:
            d["vlan"] += 1
        if etype == 0x0800:
            d["ipv4"] += 1
            proto = f[off + 9]
            if proto == 17:
                d["udp"] += 1
            elif proto == 6:
                d["tcp"] += 1
        elif etype == 0x86DD:
            d["ipv6"] += 1
            if f[off + 6] == 17:
                d["udp"] += 1
        elif etype == 0x0806:
            d["arp"] += 1
        else:
            d["other"] += 1
    return c


def main():
    out, expected = sys.argv[1], sys.argv[2]
    w = PcapWriter(out, linktype=1, sync=True)
    for i, f in enumerate(frames()):
        f.time = 1_700_000_000 + i / 1000
        w.write(f)
    w.close()
    json.dump(count(out), open(expected, "w"))


if __name__ == "__main__":
    main()

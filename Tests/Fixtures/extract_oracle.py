#!/usr/bin/env python3
"""The naive answer to `labyrinthd extract`, for its tests.

  extract_oracle.py inputs MIXED.pcap OUTDIR
      writes OUTDIR/raw.pcap (LINKTYPE_RAW) and OUTDIR/sll.pcap (LINKTYPE_LINUX_SLL):
      IPv4 and IPv6 UDP, TCP and ICMP between 10.0.0.1-3 and 2001:db8::1-3 (hosts the
      mixed capture also uses), nanosecond timestamps spread over the mixed capture's
      span; prints {"start": ns, "end": ns, "at30": ns, "at60": ns} (the first and last
      timestamps, and those of the frames 30 % and 60 % of the way into MIXED).

  extract_oracle.py damage FILE
      sets the length of the pcapng block half-way through FILE (by count) to 0x7ffffff0,
      keeps the file's modification time (so that its index still claims it), and prints
      the block's offset.

  extract_oracle.py check --originals A,B,C --got OUT [--from S] [--to S]
                          [--filter EXPR] [--flow "A B [PROTO]"] [--only FILES]
      the naive answer: each original cut to the window by `editcap -A -B`, then
      `tcpdump -r` with the filter (or, for --flow, every frame whose IP addresses are A
      and B, walked with struct through VLAN/QinQ tags, Linux cooked and raw IP headers);
      compared with OUT (read by dpkt) as sorted lists of (ts_ns, caplen, wirelen,
      sha256), since two workers interleave. Prints one JSON object: expected, got,
      equal, and the first difference. --only FILES: the expected frames are those of
      these files (recordings) instead, read by dpkt, up to a block cut short.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import dpkt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frames import pcap_frames, pcapng_frames  # noqa: E402


def read_file(path):
    """(ts_ns, linktype, caplen, wirelen, bytes) of every whole frame (up to a block cut short)."""
    data = open(path, "rb").read()
    if len(data) < 4:
        return
    reader = pcapng_frames if struct.unpack_from("<I", data, 0)[0] == 0x0A0D0D0A else pcap_frames
    for f in reader(data):
        if f is None:
            return
        linktype, ts, cap, wire, b, _ = f
        yield ts, linktype, cap, wire, b


def write_pcap(path, linktype, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for ts, b in frames:
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(b), len(b)))
            f.write(b)


def ip_packet(rng, v6):
    from scapy.all import ICMP, IP, TCP, UDP, ICMPv6EchoRequest, IPv6, Raw
    a, b = rng.sample([1, 2, 3], 2)
    if v6:
        l3 = IPv6(src="2001:db8::%d" % a, dst="2001:db8::%d" % b)
        l4 = rng.choice([UDP(sport=5000 + a, dport=53), TCP(sport=40000 + a, dport=443, flags="A"),
                         ICMPv6EchoRequest(id=a, seq=b)])
    else:
        l3 = IP(src="10.0.0.%d" % a, dst="10.0.0.%d" % b, id=rng.getrandbits(16))
        l4 = rng.choice([UDP(sport=5000 + a, dport=53), TCP(sport=40000 + a, dport=443, flags="A"),
                         ICMP(id=a, seq=b)])
    return bytes(l3 / l4 / Raw(b"x" * rng.randint(0, 200)))


def inputs(start, end, outdir):
    rng = random.Random(18)
    for name, linktype, n in (("raw.pcap", 101, 700), ("sll.pcap", 113, 500)):
        times = sorted(rng.randrange(start, end) for _ in range(n))
        frames = []
        for ts in times:
            v6 = rng.random() < 0.4
            p = ip_packet(rng, v6)
            if linktype == 113:
                p = struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", 0x86DD if v6 else 0x0800) + p
            frames.append((ts, p))
        write_pcap(os.path.join(outdir, name), linktype, frames)


def addresses(linktype, b, wire):
    """The outermost IP header's (version, src, dst, proto), with the decoder's checks."""
    at = None
    if linktype == 1:
        t, at = struct.unpack_from(">H", b, 12)[0] if len(b) >= 14 else None, 14
        while t in (0x8100, 0x88A8, 0x9100) and len(b) >= at + 4:
            t, at = struct.unpack_from(">H", b, at + 2)[0], at + 4
        if t in (0x8100, 0x88A8, 0x9100):
            return None
    elif linktype == 113:
        t, at = (struct.unpack_from(">H", b, 14)[0] if len(b) >= 16 else None), 16
    elif linktype in (101, 12, 14):
        t, at = ({4: 0x0800, 6: 0x86DD}.get(b[0] >> 4) if b else None), 0
    else:
        return None
    if t == 0x0800 and len(b) >= at + 20 and b[at] >> 4 == 4:
        ihl = (b[at] & 15) * 4
        total = struct.unpack_from(">H", b, at + 2)[0]
        if ihl < 20 or len(b) < at + ihl or total < ihl or at + total > wire:
            return None
        return 4, b[at + 12:at + 16], b[at + 16:at + 20], b[at + 9]
    if t == 0x86DD and len(b) >= at + 40 and b[at] >> 4 == 6:
        payload = struct.unpack_from(">H", b, at + 4)[0]
        if payload and at + 40 + payload > wire:
            return None
        return 6, b[at + 8:at + 24], b[at + 24:at + 40], b[at + 6]
    return None


def flow_matches(spec, linktype, b, wire):
    words = spec.split()
    want = {ipaddress.ip_address(words[0]).packed, ipaddress.ip_address(words[1]).packed}
    proto = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}.get(words[2]) if len(words) > 2 else None
    got = addresses(linktype, b, wire)
    if not got or {got[1], got[2]} != want or (len(want) == 1 and got[1] != got[2]):
        return False
    return proto is None or got[3] == proto


def frames_of(path, window=None, flow=None):
    out = []
    for ts, linktype, cap, wire, data in read_file(path):
        if window and not (window[0] <= ts < window[1]):
            continue
        if flow and not flow_matches(flow, linktype, data, wire):
            continue
        out.append((ts, cap, wire, hashlib.sha256(data).hexdigest()))
    return out


def check(args):
    lo = args.from_ if args.from_ is not None else 0
    hi = args.to if args.to is not None else 2**63 - 1
    expected = []
    if args.only:
        for f in args.only.split(","):
            expected += frames_of(f, (lo, hi))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for i, original in enumerate(args.originals.split(",")):
                cut = os.path.join(tmp, "cut%d.pcap" % i)
                if args.from_ is not None or args.to is not None:
                    editcap = ["editcap"] + (["-A", fmt(args.from_)] if args.from_ is not None else []) \
                        + (["-B", fmt(args.to)] if args.to is not None else []) + [original, cut]
                    subprocess.run(editcap, check=True, capture_output=True)
                else:
                    cut = original
                if args.filter:
                    filtered = os.path.join(tmp, "f%d.pcap" % i)
                    r = subprocess.run(["tcpdump", "-nn", "-r", cut, "--time-stamp-precision=nano", "-w", filtered,
                                        args.filter], capture_output=True, text=True)
                    if r.returncode != 0 and "syntax error" in r.stderr:
                        print(json.dumps({"error": "tcpdump: " + r.stderr.strip()}))
                        return 2
                    if r.returncode != 0:
                        # The expression means nothing for this link type
                        # ("vlan" on raw IP): none of its frames match.
                        continue
                    cut = filtered
                expected += frames_of(cut, flow=args.flow)
    got = frames_of(args.got)
    expected.sort()
    got.sort()
    first = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    print(json.dumps({"expected": len(expected), "got": len(got), "equal": expected == got,
                      "first_difference": None if expected == got else
                      [first, expected[first] if first < len(expected) else None,
                       got[first] if first < len(got) else None]}))
    return 0


def fmt(ns):
    return "%d.%09d" % (ns // 10**9, ns % 10**9)


def damage(path):
    st = os.stat(path)
    data = bytearray(open(path, "rb").read())
    offsets, off = [], 0
    while off + 12 <= len(data):
        offsets.append(off)
        off += struct.unpack_from("<I", data, off + 4)[0]
    at = offsets[len(offsets) // 2]
    struct.pack_into("<I", data, at + 4, 0x7FFFFFF0)
    open(path, "r+b").write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    print(at)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "inputs":
        times = [ts for ts, *_ in read_file(sys.argv[2])]
        inputs(times[0], times[-1], sys.argv[3])
        print(json.dumps({"start": times[0], "end": times[-1], "at30": times[len(times) * 3 // 10],
                          "at60": times[len(times) * 6 // 10]}))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "damage":
        damage(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["check"])
    ap.add_argument("--originals", default="")
    ap.add_argument("--got", required=True)
    ap.add_argument("--from", dest="from_", type=int)
    ap.add_argument("--to", type=int)
    ap.add_argument("--filter")
    ap.add_argument("--flow")
    ap.add_argument("--only")
    return check(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reads pcap or pcapng files with dpkt's block and header classes and prints,
as one JSON object, every frame's nanosecond timestamp, lengths and bytes in
digest form, so that a test can compare a recording with its input exactly.

Usage: frames.py FILE... [--linktypes 1,113] [--max-caplen N] [--as-delivered] [--list]

Several files are read in order and their frames concatenated (a rotated
recording). Frames are kept only when their link type is in --linktypes (when
given) and their captured length is at most --max-caplen (when given).
Output: {"count": N, "digest": sha256 hex over (ts_ns, caplen, wirelen, bytes)
of every kept frame in order, "linktypes": [...], "truncated": bool (the last
block of a file was cut short), "frames": [[ts_ns, caplen, wirelen,
sha256-of-bytes], ...] with --list}.

--as-delivered shows the frames as libpcap delivers them (and so as a replay
gets them): a captured length above the file's (or interface's) snap length is
cut to it, as libpcap cuts it; and as the recorder writes them: an original
length below the captured one (which pcapng forbids) is raised to it.

Timestamps are exact integers: the nanosecond pcap magic, or pcapng's
if_tsresol (power of 10 or of 2), never a float.
"""
import hashlib
import json
import struct
import sys

import dpkt


def pcap_frames(data):
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian, Hdr = "<", dpkt.pcap.LEPktHdr
    else:
        endian, Hdr = ">", dpkt.pcap.PktHdr
        magic = struct.unpack_from(">I", data, 0)[0]
    nano = magic == 0xA1B23C4D
    header = dpkt.pcap.LEFileHdr(data[:24]) if endian == "<" else dpkt.pcap.FileHdr(data[:24])
    linktype = header.linktype & 0x0FFFFFFF
    snaplen = header.snaplen
    off, truncated = 24, False
    while off < len(data):
        if off + 16 > len(data):
            truncated = True
            break
        h = Hdr(data[off:off + 16])
        if off + 16 + h.caplen > len(data):
            truncated = True
            break
        ts = h.tv_sec * 1_000_000_000 + h.tv_usec * (1 if nano else 1000)
        yield linktype, ts, h.caplen, h.len, data[off + 16: off + 16 + h.caplen], snaplen
        off += 16 + h.caplen
    if truncated:
        yield None


def tsresol_of(idb):
    for opt in getattr(idb, "opts", []):
        if opt.code == 9 and len(opt.data) >= 1:
            v = opt.data[0]
            return (2 ** (v & 0x7F)) if v & 0x80 else (10 ** v)
    return 1_000_000


STATISTICS = []  # the Interface Statistics Blocks met: {"ifrecv": N, ...}


def pcapng_frames(data):
    off, interfaces, truncated = 0, [], False
    le = True
    while off < len(data):
        if off + 12 > len(data):
            truncated = True
            break
        btype = struct.unpack_from("<I" if le else ">I", data, off)[0]
        if btype == 0x0A0D0D0A:
            magic = struct.unpack_from("<I", data, off + 8)[0]
            le = magic == 0x1A2B3C4D
            interfaces = []
        blen = struct.unpack_from("<I" if le else ">I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            truncated = True
            break
        block = data[off:off + blen]
        if btype == 1:
            idb = (dpkt.pcapng.InterfaceDescriptionBlockLE if le else dpkt.pcapng.InterfaceDescriptionBlock)(block)
            interfaces.append((idb.linktype, tsresol_of(idb), idb.snaplen))
        elif btype == 5:
            names = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}
            isb, at = {}, 20
            while at + 4 <= blen - 4:
                code, length = struct.unpack_from("<HH" if le else ">HH", block, at)
                if code == 0:
                    break
                if code in names and length == 8:
                    isb[names[code]] = struct.unpack_from("<Q" if le else ">Q", block, at + 4)[0]
                at += 4 + (length + 3) // 4 * 4
            STATISTICS.append(isb)
        elif btype == 6:
            epb = (dpkt.pcapng.EnhancedPacketBlockLE if le else dpkt.pcapng.EnhancedPacketBlock)(block)
            linktype, resol, snaplen = interfaces[epb.iface_id]
            ticks = (epb.ts_high << 32) | epb.ts_low
            ts = ticks * 1_000_000_000 // resol
            yield linktype, ts, epb.caplen, epb.pkt_len, bytes(epb.pkt_data[:epb.caplen]), snaplen
        off += blen
    if truncated:
        yield None


def main():
    args = sys.argv[1:]
    linktypes = None
    max_caplen = None
    listing = False
    delivered = False
    files = []
    i = 0
    while i < len(args):
        if args[i] == "--linktypes":
            linktypes = {int(x) for x in args[i + 1].split(",") if x}
            i += 2
        elif args[i] == "--max-caplen":
            max_caplen = int(args[i + 1])
            i += 2
        elif args[i] == "--as-delivered":
            delivered = True
            i += 1
        elif args[i] == "--list":
            listing = True
            i += 1
        else:
            files.append(args[i])
            i += 1
    digest = hashlib.sha256()
    count, seen, frames, truncated = 0, set(), [], False
    for path in files:
        data = open(path, "rb").read()
        reader = pcapng_frames if struct.unpack_from("<I", data, 0)[0] == 0x0A0D0D0A else pcap_frames
        for item in reader(data):
            if item is None:
                truncated = True
                continue
            linktype, ts, caplen, wirelen, payload, snaplen = item
            if delivered:
                if 0 < snaplen < caplen:
                    caplen, payload = snaplen, payload[:snaplen]
                wirelen = max(wirelen, caplen)
            if linktypes is not None and linktype not in linktypes:
                continue
            if max_caplen is not None and caplen > max_caplen:
                continue
            seen.add(linktype)
            digest.update(struct.pack("<qII", ts, caplen, wirelen))
            digest.update(payload)
            count += 1
            if listing:
                frames.append([ts, caplen, wirelen, hashlib.sha256(payload).hexdigest()])
    out = {"count": count, "digest": digest.hexdigest(), "linktypes": sorted(seen), "truncated": truncated,
           "statistics": STATISTICS}
    if listing:
        out["frames"] = frames
    print(json.dumps(out))


if __name__ == "__main__":
    main()

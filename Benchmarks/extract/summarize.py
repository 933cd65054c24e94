#!/usr/bin/env python3
"""Summarizes extract-bench.sh's results file: min, median and max of each
figure, and the ratios the issue asks for."""
import json
import statistics
import sys

lines = open(sys.argv[1]).read().splitlines()
rec = {"index": [], "noindex": []}
flow, filt, ring = [], [], None
for line in lines:
    w = line.split(" ", 3)
    if w[0] == "record":
        rec[w[1]].append(float(w[2]))
    elif w[0] == "ring":
        parts = line.split()
        ring = {"bytes": int(float(parts[1])), "files": int(parts[4]), "index": int(float(parts[7]))}
    elif w[0] in ("flow", "filter"):
        parts = line.split(" ", 5)
        entry = {"extract": float(parts[2]), "tcpdump": float(parts[4]), "report": json.loads(parts[5])}
        (flow if w[0] == "flow" else filt).append(entry)


def mmm(xs, fmt="%.3f"):
    return "min " + fmt % min(xs) + ", median " + fmt % statistics.median(xs) + ", max " + fmt % max(xs)


print("recording, frames/s: index %s; no index %s" % (mmm(rec["index"], "%.0f"), mmm(rec["noindex"], "%.0f")))
pairs = list(zip(rec["index"], rec["noindex"]))
print("  with/without index, per round: %s" % mmm([a / b for a, b in pairs]))
print("ring: %d bytes in %d files; index %d bytes = %.3f %%" % (ring["bytes"], ring["files"], ring["index"],
                                                             100.0 * ring["index"] / ring["bytes"]))
for name, rows in (("one flow, 10 % window", flow), ("whole ring, filter", filt)):
    print(name + ":")
    print("  extract s: " + mmm([r["extract"] for r in rows]))
    print("  tcpdump s: " + mmm([r["tcpdump"] for r in rows]))
    print("  extract/tcpdump time: " + mmm([r["extract"] / r["tcpdump"] for r in rows]))
    r = rows[-1]["report"]
    print("  read %d of %d bytes (%.3f %%), %d frames matched, %d files read, %d ruled out" % (
        r["bytes_read"], r["bytes_total"], 100.0 * r["bytes_read"] / r["bytes_total"], r["frames_matched"],
        r["files_read"], r["files_skipped"]))
    print("  rate, MB/s of ring: extract %s; tcpdump %s" % (
        mmm([ring["bytes"] / r["extract"] / 1e6 for r in rows], "%.0f"),
        mmm([ring["bytes"] / r["tcpdump"] / 1e6 for r in rows], "%.0f")))

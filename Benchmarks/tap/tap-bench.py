#!/usr/bin/env python3
"""tap-bench.py — what a live tap costs the data plane, and what it carries.

Usage: tap-bench.py [--rounds N] [--frames F] [--size B] [--flows K] [--workers W]

Starts a release labyrinthd (W workers, default 1: the replay reader gets the
other CPU), generates F frames of B bytes over K flows (gen-pcap.c) in
/dev/shm, and runs, interleaved round by round in a rotating order:

  no tap     the replay alone;
  tap, none  a tap open whose filter matches nothing ('tcp port 1' on UDP
             traffic): every frame is offered and filtered, none copied;
  tap, all   a tap of every frame, read by labyrinthctl dump -w /dev/null:
             every frame copied into the ring and streamed as pcapng (what
             the reader cannot keep up with is counted tap_dropped);
  tcpdump    the peer: tcpdump -r F -w /dev/null (read, write pcap).

For each: the job's wall time as the daemon measures it (labyrinthctl
--json replay: elapsed_seconds), and the daemon's CPU time over the run
(utime + stime of the whole process from /proc, so the tap's drain on the
control plane counts), per frame; min, median, max. For "tap, all" also the
frames delivered and dropped. Needs a release build (make), gcc, tcpdump.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import LABYRINTHCTL as C  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--frames", type=int, default=4_000_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--flows", type=int, default=4096)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    benchlib.require_build()
    work = benchlib.scratch("tap")
    daemon = None
    try:
        capture = benchlib.generate_capture(work, a.frames, a.size, a.flows)
        daemon = benchlib.Daemon(work, "lab", workers=a.workers, flows=max(65536, 2 * a.flows))  # max_taps: 4
        sock = daemon.sock

        def with_tap(args):
            tap = subprocess.Popen([C, "--socket", sock, "dump", "-w", "/dev/null"] + args,
                                   stderr=subprocess.PIPE, text=True)
            line = tap.stderr.readline()  # "tapping …": every worker has the tap
            if "tapping" not in line:
                sys.exit(f"dump did not start: {line}{tap.stderr.read()}")
            wall, cpu = daemon.replay(capture)
            tap.send_signal(signal.SIGINT)
            rest = tap.communicate(timeout=60)[1]
            return wall, cpu, rest.strip()

        def tcpdump():
            t0 = time.perf_counter()
            r0 = os.times()
            subprocess.run(["tcpdump", "-r", capture, "-w", "/dev/null"], check=True, capture_output=True)
            r1 = os.times()
            return (time.perf_counter() - t0,
                    (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system))

        results = benchlib.interleaved({
            "no tap": lambda: daemon.replay(capture) + ("",),
            "tap, none": lambda: with_tap(["-f", "tcp port 1"]),
            "tap, all": lambda: with_tap([]),
            "tcpdump -r -w": lambda: tcpdump() + ("",),
        }, a.rounds)
        print(f"machine: {benchlib.machine()}; {a.frames:,} x {a.size} B over "
              f"{a.flows} flows, {a.workers} worker(s), {a.rounds} rounds interleaved\n")
        base = statistics.median(w for w, _, _ in results["no tap"])
        print("| run | wall s min / median / max | vs no tap | CPU ns/frame min / median / max | notes (last round) |")
        print("|---|---|---|---|---|")
        for n, rs in results.items():
            w0, wm, w1 = benchlib.spread(w for w, _, _ in rs)
            c0, cm, c1 = benchlib.spread(c * 1e9 / a.frames for _, c, _ in rs)
            note = rs[-1][2].replace("labyrinthctl: ", "").replace("\n", "; ")
            print(f"| {n} | {w0:.3f} / {wm:.3f} / {w1:.3f} | {wm / base:.2f}x | {c0:.0f} / {cm:.0f} / {c1:.0f} | {note} |")
    finally:
        if daemon is not None:
            daemon.stop()
        benchlib.remove(work)


if __name__ == "__main__":
    main()

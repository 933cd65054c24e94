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
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
L = os.path.join(root, ".build/release/labyrinthd")
C = os.path.join(root, ".build/release/labyrinthctl")
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--frames", type=int, default=4_000_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--flows", type=int, default=4096)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    for tool in (L, C):
        if not os.access(tool, os.X_OK):
            sys.exit(f"build first (make): {tool}")
    work = tempfile.mkdtemp(prefix="labyrinth-tap-", dir="/dev/shm")
    daemon = None
    try:
        subprocess.run(["gcc", "-O2", "-o", f"{work}/gen-pcap", f"{root}/Benchmarks/replay/gen-pcap.c"], check=True)
        capture = f"{work}/in.pcap"
        subprocess.run([f"{work}/gen-pcap", capture, str(a.frames), str(a.size), str(a.flows)], check=True)
        sock = f"{work}/lab.sock"
        with open(f"{work}/lab.toml", "w") as f:
            f.write(f"""[daemon]
socket = "{sock}"
max_taps = 4
[rooms]
pages_per_room = 8192
lock = "best-effort"
[workers]
count = {a.workers}
flow_capacity = {max(65536, 2 * a.flows)}
[replay]
allowed_directories = ["{work}"]
""")
        log = open(f"{work}/daemon.log", "w")
        daemon = subprocess.Popen([L, "run", "--config", f"{work}/lab.toml"], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if time.monotonic() > deadline or daemon.poll() is not None:
                sys.exit("labyrinthd did not start: " + open(f"{work}/daemon.log").read())
            time.sleep(0.05)
        time.sleep(0.2)

        def replay():
            before = cpu_seconds(daemon.pid)
            out = subprocess.run([C, "--socket", sock, "--json", "replay", "--by-path", capture],
                                 capture_output=True, text=True, check=True).stdout
            return json.loads(out)["elapsed_seconds"], cpu_seconds(daemon.pid) - before

        def with_tap(args):
            tap = subprocess.Popen([C, "--socket", sock, "dump", "-w", "/dev/null"] + args,
                                   stderr=subprocess.PIPE, text=True)
            line = tap.stderr.readline()  # "tapping …": every worker has the tap
            if "tapping" not in line:
                sys.exit(f"dump did not start: {line}{tap.stderr.read()}")
            wall, cpu = replay()
            tap.send_signal(signal.SIGINT)
            rest = tap.communicate(timeout=60)[1]
            return wall, cpu, rest.strip()

        def tcpdump():
            t0 = time.perf_counter()
            r0 = os.times()
            subprocess.run(["tcpdump", "-r", capture, "-w", "/dev/null"], check=True, capture_output=True)
            r1 = os.times()
            return time.perf_counter() - t0, (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)

        runs = {
            "no tap": lambda: replay() + ("",),
            "tap, none": lambda: with_tap(["-f", "tcp port 1"]),
            "tap, all": lambda: with_tap([]),
            "tcpdump -r -w": lambda: tcpdump() + ("",),
        }
        names = list(runs)
        results = {n: [] for n in names}
        for r in range(a.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                results[n].append(runs[n]())
        print(f"machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; {a.frames:,} x {a.size} B over "
              f"{a.flows} flows, {a.workers} worker(s), {a.rounds} rounds interleaved\n")
        base = statistics.median(w for w, _, _ in results["no tap"])
        print("| run | wall s min / median / max | vs no tap | CPU ns/frame min / median / max | notes (last round) |")
        print("|---|---|---|---|---|")
        for n in names:
            walls = sorted(w for w, _, _ in results[n])
            cpus = sorted(c * 1e9 / a.frames for _, c, _ in results[n])
            note = results[n][-1][2].replace("labyrinthctl: ", "").replace("\n", "; ")
            print(f"| {n} | {walls[0]:.3f} / {statistics.median(walls):.3f} / {walls[-1]:.3f} | "
                  f"{statistics.median(walls) / base:.2f}x | {cpus[0]:.0f} / {statistics.median(cpus):.0f} / "
                  f"{cpus[-1]:.0f} | {note} |")
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=30)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

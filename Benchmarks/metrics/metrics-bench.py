#!/usr/bin/env python3
"""metrics-bench.py — what Prometheus scraping costs, and how fast it answers.

Usage: metrics-bench.py [--rounds N] [--frames F] [--scrapes S] [--workers W]

1. Cost: a release labyrinthd with one worker and [metrics] on loopback
   replays F x 64 B frames over 4096 flows (gen-pcap.c, in /dev/shm),
   round by round, alternately alone and with a scraper fetching
   GET /metrics every 100 ms over a keep-alive connection (as Prometheus
   does). Per run: the job's wall time as the daemon measures it
   (elapsed_seconds) and the daemon's CPU (utime + stime, /proc); min,
   median, max, and the ratio of the medians' rates.
2. Latency: a second daemon with W workers (default 64: 64 workers' worth
   of series, real ones) answers S scrapes (default 10 000) one after the
   other over one keep-alive connection, text format and OpenMetrics, and,
   as the peer, S `prometheus` requests on its stats socket (what the cron
   relay it replaces read). p50, p99, max, and the answer's size.
Needs a release build (make) and gcc.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(work, name, workers, pages, port):
    sock = f"{work}/{name}.sock"
    with open(f"{work}/{name}.toml", "w") as f:
        f.write(f"""[daemon]
socket = "{sock}"
[rooms]
pages_per_room = {pages}
lock = "best-effort"
[workers]
count = {workers}
flow_capacity = 65536
[replay]
allowed_directories = ["{work}"]
[metrics]
listen = "127.0.0.1:{port}"
""")
    log = open(f"{work}/{name}.log", "w")
    daemon = subprocess.Popen([L, "run", "--config", f"{work}/{name}.toml"], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/metrics")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or daemon.poll() is not None:
            sys.exit("labyrinthd did not start: " + open(f"{work}/{name}.log").read())
        time.sleep(0.1)
    return daemon, sock


def quantiles(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[int(len(xs) * 0.99)], xs[-1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--frames", type=int, default=6_000_000)
    p.add_argument("--scrapes", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=64)
    a = p.parse_args()
    for tool in (L, C):
        if not os.access(tool, os.X_OK):
            sys.exit(f"build first (make): {tool}")
    work = tempfile.mkdtemp(prefix="labyrinth-metrics-", dir="/dev/shm")
    daemons = []
    try:
        subprocess.run(["gcc", "-O2", "-o", f"{work}/gen-pcap", f"{root}/Benchmarks/replay/gen-pcap.c"], check=True)
        capture = f"{work}/in.pcap"
        subprocess.run([f"{work}/gen-pcap", capture, str(a.frames), "64", "4096"], check=True)
        print(f"machine: {os.cpu_count()} CPUs, kernel {os.uname().release}\n")

        # 1. The cost of a scrape every 100 ms.
        port = free_port()
        daemon, sock = start(work, "cost", 1, 8192, port)
        daemons.append(daemon)

        def replay():
            before = cpu_seconds(daemon.pid)
            out = subprocess.run([C, "--socket", sock, "--json", "replay", "--by-path", capture],
                                 capture_output=True, text=True, check=True).stdout
            return json.loads(out)["elapsed_seconds"], cpu_seconds(daemon.pid) - before

        def scraped():
            stop = threading.Event()
            count = [0]

            def scrape():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                while not stop.is_set():
                    c.request("GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
                    c.getresponse().read()
                    count[0] += 1
                    stop.wait(0.1)
            t = threading.Thread(target=scrape)
            t.start()
            try:
                return replay() + (count[0],)
            finally:
                stop.set()
                t.join()

        results = {"alone": [], "scraped every 100 ms": []}
        for r in range(a.rounds):
            for name in (list(results) if r % 2 == 0 else list(results)[::-1]):
                results[name].append(replay() + (0,) if name == "alone" else scraped())
        print(f"1. {a.frames:,} x 64 B replays, one worker, {a.rounds} rounds interleaved\n")
        print("| run | wall s min / median / max | rate vs alone | daemon CPU ns/frame median | scrapes per run |")
        print("|---|---|---|---|---|")
        base = statistics.median(w for w, _, _ in results["alone"])
        for name, rs in results.items():
            walls = sorted(w for w, _, _ in rs)
            cpu = statistics.median(c for _, c, _ in rs) * 1e9 / a.frames
            print(f"| {name} | {walls[0]:.3f} / {statistics.median(walls):.3f} / {walls[-1]:.3f} | "
                  f"{base / statistics.median(walls):.3f}x | {cpu:.1f} | {statistics.median(s for _, _, s in rs):.0f} |")

        # 2. Latency with many workers' series.
        port = free_port()
        big, bigsock = start(work, "latency", a.workers, 256, port)
        daemons.append(big)
        print(f"\n2. {a.scrapes:,} scrapes in a row, {a.workers} workers, one keep-alive connection\n")
        print("| request | p50 ms | p99 ms | max ms | bytes |")
        print("|---|---|---|---|---|")
        for label, accept in (("GET /metrics (text)", "text/plain"),
                              ("GET /metrics (OpenMetrics)", "application/openmetrics-text; version=1.0.0")):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            times, size = [], 0
            for _ in range(a.scrapes):
                t0 = time.perf_counter()
                c.request("GET", "/metrics", headers={"Accept": accept})
                body = c.getresponse().read()
                times.append(time.perf_counter() - t0)
                size = len(body)
            p50, p99, mx = quantiles(times)
            print(f"| {label} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {mx * 1e3:.2f} | {size:,} |")
        s = socket.socket(socket.AF_UNIX)
        s.connect(bigsock)
        f = s.makefile("rb")
        times = []
        for _ in range(a.scrapes):
            t0 = time.perf_counter()
            s.sendall(b'{"command":"prometheus"}\n')
            line = f.readline()
            times.append(time.perf_counter() - t0)
        p50, p99, mx = quantiles(times)
        print(f"| stats socket `prometheus` (peer) | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {mx * 1e3:.2f} | {len(line):,} (JSON) |")
    finally:
        for d in daemons:
            d.terminate()
            d.wait(timeout=30)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

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
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import quantiles  # noqa: E402


def start(work, name, workers, pages, port):
    """A daemon with [metrics] on `port`, ready once /metrics answers."""
    def ready():
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/metrics")
            return c.getresponse().status == 200
        except OSError:
            return False
    return benchlib.Daemon(work, name, workers=workers, pages=pages,
                           more=f'[metrics]\nlisten = "127.0.0.1:{port}"\n', ready=ready)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--frames", type=int, default=6_000_000)
    p.add_argument("--scrapes", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=64)
    a = p.parse_args()
    benchlib.require_build()
    work = benchlib.scratch("metrics")
    daemons = []
    try:
        capture = benchlib.generate_capture(work, a.frames)
        print(f"machine: {benchlib.machine()}\n")

        # 1. The cost of a scrape every 100 ms.
        port = benchlib.free_port()
        daemon = start(work, "cost", 1, 8192, port)
        daemons.append(daemon)

        def replay():
            return daemon.replay(capture)

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
        port = benchlib.free_port()
        big = start(work, "latency", a.workers, 256, port)
        bigsock = big.sock
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
            d.stop()
        benchlib.remove(work)


if __name__ == "__main__":
    main()

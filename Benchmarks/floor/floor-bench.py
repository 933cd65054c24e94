#!/usr/bin/env python3
"""floor-bench.py — labyrinthd against the floor (issue 26): the same
per-frame work written as tight C, `../shared/bench/flowfloor.c`, built here
at run time (never copied into the project), side by side in one run, every
figure a ratio to the floor's from the same run.

Usage: Benchmarks/floor/floor-bench.py [--bars replay,capture,capture-1m,write,writer]
                                       [--rounds R] [--frames N] [--flows F]
                                       [--live-frames N] [--perf]

Bars (whole processes, interleaved round by round so that both see the
same noise; min / median / max over the rounds):
  replay      replay-steady: `labyrinthd replay --workers 1 --flows 2F` of
              N (6 M) x 64 B frames over F (4096) flows against
              `flowfloor -r --slots 2F` on the same file (process CPU from
              wait4, and wall), and libpcap's bare loop (wall). Also: the
              slowest labyrinthd wall over its median.
  capture     capture-floor: live, 64 B frames over a veth pair in a network
              namespace made for the run (sender blast.c on CPU 0, consumer
              on CPU 1), F flows: `labyrinthd capture --backend tpacket
              --workers 1` against `flowfloor -i`, CPU per frame of the
              consumer (all its threads, schedstat) and of the whole machine
              (/proc/stat) beside it.
  capture-1m  capture-floor-1m: the same with 1,048,576 flows x 4 frames,
              2 M slots each.
  write       live-write-cpu: `labyrinthd capture -w` to tmpfs against
              `tcpdump -w` to tmpfs (and the floor, which writes nothing).
  writer      writer-speed: `labyrinthd replay -w x.pcapng` against
              `tcpdump -r F -w x.pcap`, by rate.
--perf: after the bars, `perf record -e cpu-clock -g` of one labyrinthd
replay and of the floor (built with its functions kept apart:
-Dalways_inline=noinline -fno-inline) on the replay file, split into
stages: receive/copy, decode, hash, table, reader, other.
--perf-live: the same of one live capture each (capture-floor's set-up),
perf record -p on the consumer while the sender sends.

LABYRINTHD=PATH runs another labyrinthd binary; BASE=PATH adds a second one
to the replay and capture bars, interleaved (an A/B of a change).
Skips with a message when ../shared (the floor's source) is absent. Needs
root for the live bars; everything it makes (a /dev/shm directory, the
namespace) is removed on exit.
"""
import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR_SRC = os.path.normpath(os.path.join(benchlib.ROOT, "..", "shared", "bench", "flowfloor.c"))
CAPTURE = os.path.join(benchlib.ROOT, "Benchmarks", "capture")
REPLAY = os.path.join(benchlib.ROOT, "Benchmarks", "replay")
CLK = os.sysconf("SC_CLK_TCK")


def run(cmd):
    """A whole process: stdout, stderr, exit status, wall seconds (fork to reaping)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    return out, err, p.returncode, time.monotonic() - t0


class ChildCPU:
    """CPU of reaped children (getrusage RUSAGE_CHILDREN) across a block."""

    def __enter__(self):
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.before = r.ru_utime + r.ru_stime
        return self

    def __exit__(self, *a):
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.seconds = r.ru_utime + r.ru_stime - self.before


def timed(cmd):
    """A whole process: stdout, stderr, wall seconds, CPU seconds (user + system, from wait4)."""
    with ChildCPU() as c:
        out, err, rc, wall = run(cmd)
    if rc != 0:
        sys.exit(f"{' '.join(cmd)} failed ({rc}): {err[-2000:]}")
    return out, err, wall, c.seconds


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    start = text.find("{")
    return json.loads(text[start:]) if start >= 0 else None


def ratios(xs, ys):
    """Per-round x/y: min, median, max."""
    return benchlib.spread([x / y for x, y in zip(xs, ys)])


def fmt3(t, unit="", scale=1.0, digits=3):
    return " / ".join(f"{v * scale:.{digits}f}" for v in t) + unit


def build(work, name, src, flags, libs=()):
    out = os.path.join(work, name)
    subprocess.run(["cc", *flags, "-o", out, src, *libs], check=True)
    return out


# ---------------------------------------------------------------- replay

def replay_bar(work, tools, capture, frames, flows, rounds):
    slots = 2 * flows
    lab = [benchlib.LABYRINTHD, "replay", "--workers", "1", "--flows", str(slots), "--json", capture]
    floor = [tools["floor"], "-r", capture, "--slots", str(slots)]
    bare = [tools["bare"], capture]

    def run_lab(argv=lab):
        out, _, wall, cpu = timed(argv)
        j = last_json(out)
        if j.get("packets") != frames:
            sys.exit(f"labyrinthd replayed {j.get('packets')} frames, not {frames}")
        return wall, cpu

    def run_floor():
        out, _, wall, cpu = timed(floor)
        j = last_json(out)
        if j["frames"] != frames or j["flows"] != flows:
            sys.exit(f"flowfloor: {j}, expected {frames} frames over {flows} flows")
        return wall, cpu, j["seconds"], j["cpu_seconds"]

    def run_bare():
        out, _, wall, _ = timed(bare)
        if f"packets={frames} " not in out:
            sys.exit(f"pcap-bare-loop: {out}")
        return wall, float(re.search(r"seconds=([0-9.]+)", out).group(1))

    runs = {"lab": run_lab, "floor": run_floor, "bare": run_bare}
    base = os.environ.get("BASE")
    if base:
        runs["base"] = lambda: run_lab([os.path.abspath(base)] + lab[1:])
    r = benchlib.interleaved(runs, rounds)
    lw, lc = [x[0] for x in r["lab"]], [x[1] for x in r["lab"]]
    fw, fc = [x[0] for x in r["floor"]], [x[1] for x in r["floor"]]
    bw = [x[0] for x in r["bare"]]
    med_lw = benchlib.spread(lw)[1]
    print(f"\n## replay-steady: {frames:,} x 64 B, {flows} flows, {slots} slots, one worker; {rounds} rounds")
    print("| process | wall s (min / median / max) | CPU s (min / median / max) | ns CPU a frame (median) |")
    print("|---|---|---|---|")
    print(f"| labyrinthd replay --workers 1 | {fmt3(benchlib.spread(lw))} | {fmt3(benchlib.spread(lc))} | "
          f"{benchlib.spread(lc)[1] / frames * 1e9:.1f} |")
    print(f"| flowfloor -r (the floor) | {fmt3(benchlib.spread(fw))} | {fmt3(benchlib.spread(fc))} | "
          f"{benchlib.spread(fc)[1] / frames * 1e9:.1f} |")
    print(f"| pcap-bare-loop (libpcap) | {fmt3(benchlib.spread(bw))} | - | - |")
    print("\nratios, per round (labyrinthd / peer of the same round), min / median / max:")
    print(f"- CPU / floor CPU:            {fmt3(ratios(lc, fc), 'x', digits=2)}   (bar: <= 1.25x)")
    print(f"- wall / libpcap bare wall:   {fmt3(ratios(lw, bw), 'x', digits=2)}   (bar: <= 1.0x)")
    print(f"- wall / floor wall:          {fmt3(ratios(lw, fw), 'x', digits=2)}")
    print(f"- floor wall / libpcap wall:  {fmt3(ratios(fw, bw), 'x', digits=2)}")
    print(f"- slowest labyrinthd wall / its median: {max(lw) / med_lw:.2f}x   (bar: <= 1.25x)")
    print(f"- raw labyrinthd wall: {' '.join('%.3f' % x for x in lw)}; CPU: {' '.join('%.3f' % x for x in lc)}")
    print(f"- raw floor wall: {' '.join('%.3f' % x for x in fw)}; CPU: {' '.join('%.3f' % x for x in fc)}")
    print(f"- raw bare wall: {' '.join('%.3f' % x for x in bw)}")
    if base:
        bl, bc = [x[0] for x in r["base"]], [x[1] for x in r["base"]]
        print(f"- BASE ({base}), interleaved with the rest: CPU / floor CPU {fmt3(ratios(bc, fc), 'x', digits=2)}; "
              f"wall / libpcap wall {fmt3(ratios(bl, bw), 'x', digits=2)}; CPU {fmt3(benchlib.spread(bc))} s")
        print(f"- labyrinthd / BASE, per round: CPU {fmt3(ratios(lc, bc), 'x', digits=2)}; "
              f"wall {fmt3(ratios(lw, bl), 'x', digits=2)}")
    return r


# ---------------------------------------------------------------- writer speed

def writer_bar(work, capture, frames, rounds):
    out_lab, out_tcpd = f"{work}/w.pcapng", f"{work}/w.pcap"
    lab = [benchlib.LABYRINTHD, "replay", "--workers", "1", "--json", "-w", out_lab, capture]
    tcpd = ["tcpdump", "-r", capture, "-w", out_tcpd]

    def one(cmd, path):
        _, _, wall, cpu = timed(cmd)
        size = os.path.getsize(path)
        os.unlink(path)
        return wall, cpu, size

    r = benchlib.interleaved({"lab": lambda: one(lab, out_lab), "tcpd": lambda: one(tcpd, out_tcpd)}, rounds)
    lw, tw = [x[0] for x in r["lab"]], [x[0] for x in r["tcpd"]]
    print(f"\n## writer-speed: replay -> file in /dev/shm, {frames:,} x 64 B; {rounds} rounds")
    print(f"- labyrinthd replay -w x.pcapng: wall {fmt3(benchlib.spread(lw))} s, {r['lab'][0][2]:,} bytes")
    print(f"- tcpdump -r -w x.pcap:          wall {fmt3(benchlib.spread(tw))} s, {r['tcpd'][0][2]:,} bytes")
    print(f"- labyrinthd's rate / tcpdump's rate, per round: {fmt3(ratios(tw, lw), 'x', digits=2)}   (bar: >= 2x)")


# ---------------------------------------------------------------- live

def schedstat_ns(pid):
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def machine_ns():
    """Busy time of every CPU (user, nice, system, irq, softirq; not steal,
    the hypervisor's), every process on the machine included."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return sum(int(v[i]) for i in (0, 1, 2, 5, 6)) * 1e9 / CLK


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except FileNotFoundError:
        pass
    return out


def bound_to(pid, ifindex):
    """Whether the process holds a packet socket bound to ETH_P_ALL on ifindex."""
    mine = socket_inodes(pid)
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            next(f)
            for line in f:
                c = line.split()
                if c[8] in mine and c[3] == "0003" and int(c[4]) == ifindex:
                    return True
    except (FileNotFoundError, StopIteration):
        pass
    return False


class Namespace:
    def __init__(self):
        self.name = f"labyrinth-floor-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.made = True
        sh = lambda *a: subprocess.run(["ip", "netns", "exec", self.name, *a], check=True)  # noqa: E731
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        subprocess.run(["ip", "-n", self.name, "link", "add", "va", "type", "veth", "peer", "name", "vb"], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "va", "up"], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "vb", "up"], check=True)
        out = subprocess.run(["ip", "netns", "exec", self.name, "cat", "/sys/class/net/vb/ifindex"],
                             capture_output=True, text=True, check=True).stdout
        self.vb = int(out)

    def remove(self):
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)

    def cmd(self, *a):
        return ["ip", "netns", "exec", self.name, *a]


def live_round(ns, tools, name, argv, count, flows, received_of, work, perf_data=None):
    """One consumer: started on CPU 1, ready once bound; the sender on CPU 0
    sends `count` frames; the consumer's CPU counted until it stops rising.
    With `perf_data`, perf records the consumer meanwhile.
    Returns (received, consumer ns a frame, machine ns a frame)."""
    out_path, err_path = f"{work}/{name}.out", f"{work}/{name}.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen(ns.cmd("taskset", "-c", "1", *argv), stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while not bound_to(p.pid, ns.vb):
            if p.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{name} did not start: " + open(err_path).read()[-2000:])
            time.sleep(0.02)
        recorder = None
        if perf_data:
            recorder = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-c", str(PERIOD_NS), "-g",
                                         "-p", str(p.pid), "-o", perf_data],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not (os.path.exists(perf_data) and os.path.getsize(perf_data) > 0):
                if recorder.poll() is not None or time.monotonic() > deadline:
                    sys.exit("perf record did not start")
                time.sleep(0.02)
        c0, m0 = schedstat_ns(p.pid), machine_ns()
        subprocess.run(ns.cmd("taskset", "-c", "0", tools["blast"], "va", str(count), "64", "0", str(flows)),
                       check=True, stdout=subprocess.DEVNULL)
        # Until the consumer's CPU stops rising (its last block retired and
        # walked): 3 quiet 50 ms looks in a row, within a deadline.
        deadline = time.monotonic() + 20
        quiet, last = 0, schedstat_ns(p.pid)
        while quiet < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            now = schedstat_ns(p.pid)
            quiet = quiet + 1 if now - last < 200_000 else 0
            last = now
        c1, m1 = schedstat_ns(p.pid), machine_ns()
        if recorder:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=60)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    got = received_of(open(out_path).read(), open(err_path).read())
    return got, (c1 - c0) / max(got, 1), (m1 - m0) / max(got, 1)


def capture_bar(work, tools, ns, label, flows, count, rounds, write=False):
    slots = 1
    while slots < 2 * flows:
        slots *= 2
    slots = max(slots, 65536) if flows <= 4096 else slots
    lab_argv = [benchlib.LABYRINTHD, "capture", "-i", "vb", "--backend", "tpacket", "--workers", "1", "--cpus", "1",
                "--lock", "off", "--flows", str(slots), "--json"]
    floor_argv = [tools["floor"], "-i", "vb", "--slots", str(slots)]
    lab_rx = lambda o, e: last_json(o)["received"]  # noqa: E731
    floor_rx = lambda o, e: last_json(o)["frames"]  # noqa: E731
    consumers = {"labyrinthd": (lab_argv, lab_rx), "floor": (floor_argv, floor_rx)}
    if os.environ.get("BASE"):
        consumers["labyrinthd BASE"] = ([os.path.abspath(os.environ["BASE"])] + lab_argv[1:], lab_rx)
    if write:
        consumers = {
            "labyrinthd -w": (lab_argv + ["-w", f"{work}/live.pcapng"], lab_rx),
            "tcpdump -w": (["tcpdump", "-i", "vb", "-w", f"{work}/live.pcap", "-B", "32768"],
                           lambda o, e: int(re.search(r"(\d+) packets captured", e).group(1))),
            "floor": (floor_argv, floor_rx),
        }

    def one(name):
        argv, rx = consumers[name]
        r = live_round(ns, tools, name.split()[0], argv, count, flows, rx, work)
        for f in ("live.pcapng", "live.pcap"):
            if os.path.exists(f"{work}/{f}"):
                os.unlink(f"{work}/{f}")
        print(f"  {label} {name}: received {r[0]:,} of {count:,}, {r[1]:.1f} ns a frame, machine {r[2]:.1f}",
              file=sys.stderr)
        return r

    r = benchlib.interleaved({n: (lambda n=n: one(n)) for n in consumers}, rounds)
    print(f"\n## {label}: live, 64 B over veth, {flows:,} flows, {count:,} frames, {slots:,} slots; {rounds} rounds")
    print("| consumer | received (min) | CPU ns a frame (min / median / max) | machine ns a frame (min / median / max) |")
    print("|---|---|---|---|")
    for n in consumers:
        xs = r[n]
        print(f"| {n} | {min(x[0] for x in xs):,} | {fmt3(benchlib.spread([x[1] for x in xs]), digits=1)} | "
              f"{fmt3(benchlib.spread([x[2] for x in xs]), digits=1)} |")
    print("\nratios, per round, min / median / max:")
    for n in consumers:
        if n == "floor":
            continue
        print(f"- {n} / floor, consumer CPU: {fmt3(ratios([x[1] for x in r[n]], [x[1] for x in r['floor']]), 'x', digits=2)}"
              f"; machine: {fmt3(ratios([x[2] for x in r[n]], [x[2] for x in r['floor']]), 'x', digits=2)}")
    if "labyrinthd BASE" in consumers:
        print(f"- labyrinthd / labyrinthd BASE, consumer CPU: "
              f"{fmt3(ratios([x[1] for x in r['labyrinthd']], [x[1] for x in r['labyrinthd BASE']]), 'x', digits=2)}")
    if write:
        lw, tw = [x[1] for x in r["labyrinthd -w"]], [x[1] for x in r["tcpdump -w"]]
        print(f"- labyrinthd -w / tcpdump -w, consumer CPU: {fmt3(ratios(lw, tw), 'x', digits=2)}   (bar: <= 1.25x)")
    return r


# ---------------------------------------------------------------- profile

# Stages by thread and symbol, first match wins. labyrinthd: every sample of
# the reader thread (lab-reader, kernel included: its page faults on the
# mapping) is the reader's; on the worker, pass 1 (pollReplay, stage, the
# copy, the fragment) is receive/copy, pass 2's decode and accounting
# (processBatch, decodePacket, inlined into it) decode, FlowTable the table.
# The replayed frame's hash is the reader's quickHash, inlined into its pass.
# The floor (built with its functions apart): run_file and the kernel (the
# populated mapping) are its reader, frame its pass 1, decode and the loads
# decode, hash_key the hash, flush the table.
LAB_STAGES = [
    ("table", r"FlowTable"),
    ("hash", r"quickHash|hash64"),
    ("decode", r"processBatch|decodePacket|account"),
    ("receive/copy", r"pollReplay|stage|memmove|memcpy|Fragment|Room|SPSCRing|LiveSources|TPacket|poll"),
]
FLOOR_STAGES = [
    ("decode", r"^(decode|be16|ld16|ld32|ld64)$"),
    ("hash", r"^hash_key$"),
    ("table", r"^flush$"),
    ("receive/copy", r"^frame$"),
    ("reader", r"^run_file$"),
]


def classify(comm, sym, kernel, floor):
    if floor:
        if kernel:
            return "reader"
        stages = FLOOR_STAGES
    else:
        if comm.startswith("lab-reader"):
            return "reader"
        if not comm.startswith("lab-irq"):
            return "other"
        stages = LAB_STAGES
    for stage, pat in stages:
        if re.search(pat, sym):
            return stage
    return "other"


PERIOD_NS = 100_000  # one cpu-clock sample per 100 µs of CPU
STAGE_NAMES = ["receive/copy", "decode", "hash", "table", "reader", "other"]


def stage_samples(data, frames, floor, live):
    """ns a frame by stage, and the symbols behind them, from one perf.data."""
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "-n", "--sort", "comm,sym", "--stdio",
                          "-g", "none", "--percent-limit", "0"], capture_output=True, text=True).stdout
    os.unlink(data)
    ns, rows = {}, []
    for line in rep.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+([0-9]+)\s+(\S+)\s+\[([.k])\]\s+(.*)$", line)
        if not m:
            continue
        samples, comm, sym = int(m.group(2)), m.group(3), m.group(5).strip()
        st = classify(comm, sym, m.group(4) == "k", floor)
        if live and st == "reader":
            st = "receive/copy"  # live, the floor's loop and its kernel time are the ring's
        v = samples * PERIOD_NS / frames
        ns[st] = ns.get(st, 0) + v
        rows.append((v, comm, sym, st))
    return ns, rows


def stage_table(title, per, tops):
    print(title)
    print("| stage | floor ns a frame | labyrinthd ns a frame | labyrinthd / floor |")
    print("|---|---|---|---|")
    for st in STAGE_NAMES + ["total"]:
        f = sum(per["floor"].values()) if st == "total" else per["floor"].get(st, 0)
        lab = sum(per["labyrinthd"].values()) if st == "total" else per["labyrinthd"].get(st, 0)
        print(f"| {st} | {f:.1f} | {lab:.1f} | {lab / f:.2f}x |" if f > 0 else f"| {st} | 0 | {lab:.1f} | - |")
    for name, rows in tops.items():
        print(f"\ntop symbols of {name} (ns a frame, thread, symbol, stage):")
        for v, comm, sym, st in sorted(rows, reverse=True)[:14]:
            print(f"- {v:6.1f} {comm:15} {sym[:100]}  [{st}]")


def profile(work, tools, capture, frames, flows):
    """Samples per stage of one replay each, as ns a frame (samples x
    period / frames), side by side."""
    slots = 2 * flows
    perf = ["perf", "record", "-q", "-e", "cpu-clock", "-c", str(PERIOD_NS), "-g", "-o"]
    runs = {
        "labyrinthd": [benchlib.LABYRINTHD, "replay", "--workers", "1", "--flows", str(slots), "--json", capture],
        "floor": [tools["floor-profile"], "-r", capture, "--slots", str(slots)],
    }
    per, tops = {}, {}
    for name, argv in runs.items():
        data = f"{work}/perf.data"
        subprocess.run(perf + [data, "--", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        per[name], tops[name] = stage_samples(data, frames, name == "floor", False)
    stage_table(f"\n## Where the time goes, replay: perf record -e cpu-clock -c {PERIOD_NS} -g, one replay of the "
                "same file each (the floor built with -fno-inline -Dalways_inline=noinline, so that its stages are "
                "functions)", per, tops)


def profile_live(work, tools, ns, flows, count):
    """The same for one live capture each (capture-floor's set-up)."""
    slots = max(65536, 2 * flows)
    runs = {
        "labyrinthd": [benchlib.LABYRINTHD, "capture", "-i", "vb", "--backend", "tpacket", "--workers", "1",
                       "--cpus", "1", "--lock", "off", "--flows", str(slots), "--json"],
        "floor": [tools["floor-profile"], "-i", "vb", "--slots", str(slots)],
    }
    rx = {"labyrinthd": lambda o, e: last_json(o)["received"], "floor": lambda o, e: last_json(o)["frames"]}
    per, tops = {}, {}
    for name, argv in runs.items():
        data = f"{work}/perf-live.data"
        got, _, _ = live_round(ns, tools, name, argv, count, flows, rx[name], work, perf_data=data)
        per[name], tops[name] = stage_samples(data, got, name == "floor", True)
    stage_table(f"\n## Where the time goes, live (capture-floor, {flows} flows): perf record -p of the consumer",
                per, tops)


# ---------------------------------------------------------------- main

def on_term(signum, frame):
    # A SIGTERM (a `timeout`) unwinds through main's cleanup: the namespace
    # and the scratch directory go.
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, on_term)
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", default="replay,capture")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=6_000_000)
    ap.add_argument("--flows", type=int, default=4096)
    ap.add_argument("--live-frames", type=int, default=2_000_000)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--perf-live", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(FLOOR_SRC):
        print(f"floor-bench: skipped: the floor's source {FLOOR_SRC} is absent (it lives in ../shared beside the "
              f"project, never in it)")
        return 0
    if os.environ.get("LABYRINTHD"):
        benchlib.LABYRINTHD = os.path.abspath(os.environ["LABYRINTHD"])
    if not os.access(benchlib.LABYRINTHD, os.X_OK):
        sys.exit(f"build first (make): {benchlib.LABYRINTHD}")
    bars = a.bars.split(",")
    work = benchlib.scratch("floor")
    ns = None
    try:
        tools = {
            "floor": build(work, "flowfloor", FLOOR_SRC, ["-O2", "-march=native"]),
            "bare": build(work, "pcap-bare-loop", f"{REPLAY}/pcap-bare-loop.c", ["-O2"], ["-lpcap"]),
            "blast": build(work, "blast", f"{CAPTURE}/blast.c", ["-O2"]),
        }
        if a.perf or a.perf_live:
            tools["floor-profile"] = build(work, "flowfloor-profile", FLOOR_SRC,
                                           ["-O2", "-march=native", "-g", "-fno-inline", "-Dalways_inline=noinline"])
        cpu = open("/proc/cpuinfo").read()
        model = re.search(r"model name\s*:\s*(.*)", cpu).group(1)
        print(f"# floor-bench: {benchlib.machine()}, {model}; load {open('/proc/loadavg').read().split()[:3]}")
        print(f"floor: cc -O2 -march=native {FLOOR_SRC}")
        capture = None
        if any(b in bars for b in ("replay", "writer")) or a.perf:
            capture = benchlib.generate_capture(work, a.frames, 64, a.flows)
        if "replay" in bars:
            replay_bar(work, tools, capture, a.frames, a.flows, a.rounds)
        if "writer" in bars:
            writer_bar(work, capture, a.frames, a.rounds)
        live = [b for b in bars if b in ("capture", "capture-1m", "write")]
        if live or a.perf_live:
            ns = Namespace()
            if "capture" in bars:
                capture_bar(work, tools, ns, "capture-floor", a.flows, a.live_frames, a.rounds)
            if "capture-1m" in bars:
                capture_bar(work, tools, ns, "capture-floor-1m", 1 << 20, 4 << 20, a.rounds)
            if "write" in bars:
                capture_bar(work, tools, ns, "live-write-cpu", a.flows, a.live_frames, a.rounds, write=True)
        if a.perf:
            profile(work, tools, capture, a.frames, a.flows)
        if a.perf_live:
            profile_live(work, tools, ns, a.flows, a.live_frames)
        print(f"\nload at the end: {open('/proc/loadavg').read().split()[:3]}")
    finally:
        if ns:
            ns.remove()
        benchlib.remove(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

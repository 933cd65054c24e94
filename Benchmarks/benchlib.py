"""benchlib.py — what the Python benchmarks share: the release binaries, a
scratch directory in /dev/shm, the generated capture, a daemon started and
waited for, a replay job timed by the daemon with its CPU from /proc, and
the min / median / max the tables quote.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import benchlib
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LABYRINTHD = os.path.join(ROOT, ".build/release/labyrinthd")
LABYRINTHCTL = os.path.join(ROOT, ".build/release/labyrinthctl")
HZ = os.sysconf("SC_CLK_TCK")


def require_build():
    """Exits with a hint unless the release binaries are built."""
    for tool in (LABYRINTHD, LABYRINTHCTL):
        if not os.access(tool, os.X_OK):
            sys.exit(f"build first (make): {tool}")


def scratch(name):
    """A fresh directory in /dev/shm (remove it with `remove`)."""
    return tempfile.mkdtemp(prefix=f"labyrinth-{name}-", dir="/dev/shm")


def remove(work):
    subprocess.run(["rm", "-rf", work])


def machine():
    return f"{os.cpu_count()} CPUs, kernel {os.uname().release}"


def cpu_seconds(pid):
    """User plus system time of a whole process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def generate_capture(work, frames, size=64, flows=4096):
    """F frames of B bytes over K flows (Benchmarks/replay/gen-pcap.c) in `work`."""
    subprocess.run(["gcc", "-O2", "-o", f"{work}/gen-pcap", f"{ROOT}/Benchmarks/replay/gen-pcap.c"], check=True)
    capture = f"{work}/in.pcap"
    subprocess.run([f"{work}/gen-pcap", capture, str(frames), str(size), str(flows)], check=True)
    return capture


class Daemon:
    """A release labyrinthd with its own config in `work`: `workers`
    workers, `pages` pages a room, replay by path from `work`, and `more`
    TOML appended. Ready once `ready()` holds (default: its stats socket
    exists). Stop it with `stop()`."""

    def __init__(self, work, name, workers=1, pages=8192, flows=65536, more="", ready=None, timeout=60):
        self.sock = f"{work}/{name}.sock"
        self.log_path = f"{work}/{name}.log"
        with open(f"{work}/{name}.toml", "w") as f:
            f.write(f"""[daemon]
socket = "{self.sock}"
[rooms]
pages_per_room = {pages}
lock = "best-effort"
[workers]
count = {workers}
flow_capacity = {flows}
[replay]
allowed_directories = ["{work}"]
{more}
""")
        log = open(self.log_path, "w")
        self.process = subprocess.Popen([LABYRINTHD, "run", "--config", f"{work}/{name}.toml"], stdout=log, stderr=log)
        self.pid = self.process.pid
        ready = ready or (lambda: os.path.exists(self.sock) and self.answers())
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                sys.exit("labyrinthd did not start: " + open(self.log_path).read())
            time.sleep(0.05)

    def answers(self):
        r = subprocess.run([LABYRINTHCTL, "--socket", self.sock, "version"], capture_output=True)
        return r.returncode == 0

    def replay(self, capture):
        """Replays `capture` by path and waits: the job's wall time as the
        daemon measures it, and the daemon's CPU over the job."""
        before = cpu_seconds(self.pid)
        out = subprocess.run([LABYRINTHCTL, "--socket", self.sock, "--json", "replay", "--by-path", capture],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["elapsed_seconds"], cpu_seconds(self.pid) - before

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def spread(xs):
    """min, median, max."""
    xs = sorted(xs)
    return xs[0], statistics.median(xs), xs[-1]


def quantiles(xs):
    """p50, p99, max."""
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[int(len(xs) * 0.99)], xs[-1]


def interleaved(runs, rounds):
    """Runs each of `runs` (name: function) once a round, in an order that
    rotates by round so that no run always follows the same one; the
    results by name, in order."""
    names = list(runs)
    results = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            results[n].append(runs[n]())
    return results

#!/usr/bin/env python3
"""Holds stats-socket connections open as other users, for the connection
policy tests: hold_connections.py SOCKET OUT GROUPS UID:N [UID:N ...].

Run as root. For each UID:N it forks a child that takes that uid (gid 65534,
the supplementary GROUPS, comma-separated), opens N connections, sends
{"command":"version"} on each and reads the reply. Each child writes a line
"UID ok=A refused=B reasons=..." to OUT (appending) and then keeps the
accepted connections open, sending a version request every 5 s (under the
idle timeout), until it is killed. The parent waits for its children."""
import os
import socket
import sys
import time

path, out, groups = sys.argv[1], sys.argv[2], [int(g) for g in sys.argv[3].split(",") if g]
plans = [tuple(int(x) for x in arg.split(":")) for arg in sys.argv[4:]]


def hold(uid, count):
    os.setgroups(groups)
    os.setgid(65534)
    os.setuid(uid)
    kept, refused, reasons = [], 0, set()
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        try:
            s.sendall(b'{"command":"version"}\n')
        except OSError:
            pass
        data = b""
        while not data.endswith(b"\n"):
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        if b'"ok":true' in data:
            kept.append(s)
        else:
            refused += 1
            reasons.add(data.decode(errors="replace").strip())
            s.close()
    os.write(report, f"{uid} ok={len(kept)} refused={refused} reasons={sorted(reasons)}\n".encode())
    while True:
        time.sleep(5)
        for s in kept:
            try:
                s.sendall(b'{"command":"version"}\n')
                s.recv(65536)
            except OSError:
                pass


# Opened here, as root: the children, as other users, may not open it.
report = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
children = []
for uid, count in plans:
    pid = os.fork()
    if pid == 0:
        try:
            hold(uid, count)
        finally:
            os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)

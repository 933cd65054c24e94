#!/usr/bin/env python3
"""One request to labyrinthd's stats socket, written independently of
labyrinthctl: prints the reply line. Exit 77 when the socket refuses us
(EACCES), 69 when nothing listens, 76 when the daemon closes silently."""
import socket
import sys

path, request = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(path)
except PermissionError as e:
    print(e, file=sys.stderr)
    sys.exit(77)
except OSError as e:
    print(e, file=sys.stderr)
    sys.exit(69)
try:
    s.sendall(request.encode() + b"\n")
except OSError:
    pass  # the daemon may already have answered and closed
data = b""
while not data.endswith(b"\n"):
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
if not data:
    sys.exit(76)
sys.stdout.write(data.decode())

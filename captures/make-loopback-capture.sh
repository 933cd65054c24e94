#!/usr/bin/env bash
# How captures/loopback.pcap was made: real traffic on this machine's
# loopback, captured by tcpdump while a small HTTP server, a UDP echo server,
# ping and ping6 run. Kept for the record; the file itself is committed.
set -euo pipefail
out=${1:-captures/loopback.pcap}
work=$(mktemp -d)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
pids=()
trap cleanup EXIT

python3 -m http.server 18080 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 & pids+=($!)
python3 -m http.server 18081 --bind ::1 --directory "$work" >/dev/null 2>&1 & pids+=($!)
python3 - <<'PY' & pids+=($!)
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 15353))
while True:
    data, peer = s.recvfrom(4096); s.sendto(data, peer)
PY
head -c 30000 /dev/urandom > "$work/blob.bin"
echo "hello" > "$work/index.html"
sleep 0.5

tcpdump -i lo -s 0 --time-stamp-precision=nano -w "$out" --immediate-mode 2>/dev/null & pids+=($!)
tcpdump_pid=$!
sleep 1
for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:18080/index.html"; done
curl -s -o /dev/null "http://127.0.0.1:18080/blob.bin"
for i in $(seq 1 10); do curl -s -g -o /dev/null "http://[::1]:18081/index.html"; done
python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
for i in range(200):
    s.sendto(b"query %d " % i + bytes(i % 200), ("127.0.0.1", 15353)); s.recvfrom(4096)
PY
ping -c 10 -i 0.05 127.0.0.1 >/dev/null
ping -6 -c 10 -i 0.05 ::1 >/dev/null
ping -c 2 -s 50000 127.0.0.1 >/dev/null
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
capinfos "$out"

#!/usr/bin/env bash
# capture-bench.sh — live capture on a veth pair: labyrinthd's two backends
# against tcpdump and the bare loops they are built on, in the same run.
#
# Usage: capture-bench.sh [--rounds R] [--count64 N] [--count1500 N] [--flows F] [--write]
#
# A network namespace of its own holds a veth pair (IPv6 off); a sender
# (blast.c: raw AF_PACKET socket, sendmmsg, --flows F flows, default 4096;
# labyrinthd's table gets 2 F slots, at least 65536) pinned to CPU 0 sends
# N frames as fast as it can out of one end; each consumer, pinned to CPU 1,
# captures on the other end:
#   tcpdump         tcpdump -i vb -w /dev/null -B 32768
#   pcap-bare       libpcap's bare live loop (pcap_dispatch, counting)
#   labyrinthd-pcap labyrinthd capture --backend pcap --workers 1 (decode, flows)
#   labyrinthd-tpacket labyrinthd capture --backend tpacket --workers 1 (its own
#                   TPACKET_V3 ring, a block at a time)
#   labyrinthd-tpacket-base  the same with the binary BASE names (another
#                   build: an A/B of a change, interleaved; not in the default set)
#   uring-bare      a bare io_uring multishot recvmsg loop, provided buffers
#   uring-bare-recv the same with multishot recv (not in the default set)
#   uring-bare-aux  the same with PACKET_AUXDATA read per frame, as the
#                   uring backend does (for VLAN tags)
#   labyrinthd-uring labyrinthd capture --backend uring --workers 1
# With --write, the consumers write what they capture to files in /dev/shm
# (removed after each run) instead:
#   tcpdump-w       tcpdump -i vb -w FILE -B 32768 (pcap)
#   dumpcap-w       dumpcap -i vb -w FILE -B 32 (pcapng)
#   labyrinthd-pcap-w, labyrinthd-tpacket-w   labyrinthd capture ... -w FILE
#                   (pcapng), with the default room: frames share chunks
#   labyrinthd-uring-w  the same with --pages-per-room 65536: the uring
#                   backend's frames are the kernel's receive pages, a page
#                   each until the write completes
# Per run: frames received, drop % ((sent - received) / sent), the sender's
# rate (the offered load), the consumer's CPU time per received frame (all
# its threads, from /proc/PID/task/*/schedstat), and the machine's (every
# CPU's busy time in /proc/stat over the run, the sender and the kernel's
# softirq copy into a TPACKET ring included) per received frame. Medians over rounds;
# consumers are interleaved within each round. Then heap allocations of
# labyrinthd capture at 100,000 and 1,000,000 frames (malloc-count.so).
# Everything is removed on exit.
set -euo pipefail
export LC_ALL=C
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
rounds=3
count64=2000000
count1500=1000000
flows=4096
while (($# > 0)); do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --count64) count64=$2; shift 2 ;;
        --count1500) count1500=$2; shift 2 ;;
        --flows) flows=$2; shift 2 ;;
        --write) CONSUMERS=${CONSUMERS:-"tcpdump-w dumpcap-w labyrinthd-pcap-w labyrinthd-tpacket-w labyrinthd-uring-w"}; shift ;;
        *) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 64 ;;
    esac
done
labyrinthd=$root/.build/release/labyrinthd
[ -x "$labyrinthd" ] || { echo "build first: make" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "needs tcpdump" >&2; exit 1; }

work=$(mktemp -d /dev/shm/labyrinth-capbench-XXXXXX)
ns=labyrinth-bench-$$
consumer=
cleanup() {
    [ -n "$consumer" ] && kill -9 "$consumer" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/blast" "$here/blast.c"
cc -O2 -o "$work/uring-bare" "$here/uring-bare.c" -luring
cc -O2 -o "$work/pcap-live-bare" "$here/pcap-live-bare.c" -lpcap
cc -O2 -shared -fPIC -o "$work/malloc-count.so" "$here/malloc-count.c" -ldl

ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" link set va up
ip -n "$ns" link set vb up
inns() { ip netns exec "$ns" "$@"; }

cpu_ns() { # total on-CPU nanoseconds of every thread of PID
    local total=0 t
    # (A thread may end between the glob and the read: it counts 0.)
    for t in /proc/"$1"/task/*/schedstat; do
        v=$(cut -d' ' -f1 "$t" 2>/dev/null) || v=0
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

machine_ns() { # busy nanoseconds of every CPU since boot (/proc/stat, USER_HZ ticks)
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) * 1000000000 / hz }' /proc/stat
}

start_consumer() { # name -> sets $consumer, output in $work/out, $work/err
    rm -f "$work/out" "$work/err"
    case $1 in
        tcpdump) ip netns exec "$ns" taskset -c 1 tcpdump -i vb -w /dev/null -B 32768 >"$work/out" 2>"$work/err" & ;;
        pcap-bare) ip netns exec "$ns" taskset -c 1 "$work/pcap-live-bare" vb >"$work/out" 2>"$work/err" & ;;
        uring-bare) ip netns exec "$ns" taskset -c 1 "$work/uring-bare" vb >"$work/out" 2>"$work/err" & ;;
        uring-bare-recv) ip netns exec "$ns" taskset -c 1 "$work/uring-bare" vb recv >"$work/out" 2>"$work/err" & ;;
        uring-bare-aux) ip netns exec "$ns" taskset -c 1 "$work/uring-bare" vb aux >"$work/out" 2>"$work/err" & ;;
        labyrinthd-pcap) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend pcap --workers 1 --cpus 1 --lock off --flows "$table" --json >"$work/out" 2>"$work/err" & ;;
        labyrinthd-tpacket) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend tpacket --workers 1 --cpus 1 --lock off --flows "$table" --json >"$work/out" 2>"$work/err" & ;;
        labyrinthd-tpacket-base) ip netns exec "$ns" taskset -c 1 "${BASE:?BASE=/path/to/another/labyrinthd}" capture -i vb --backend tpacket --workers 1 --cpus 1 --lock off --flows "$table" --json >"$work/out" 2>"$work/err" & ;;
        labyrinthd-uring) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend uring --workers 1 --cpus 1 --lock off --flows "$table" --json >"$work/out" 2>"$work/err" & ;;
        tcpdump-w) ip netns exec "$ns" taskset -c 1 tcpdump -i vb -w "$work/file" -B 32768 >"$work/out" 2>"$work/err" & ;;
        dumpcap-w) ip netns exec "$ns" taskset -c 1 dumpcap -i vb -w "$work/file" -B 32 >"$work/out" 2>"$work/err" & ;;
        labyrinthd-pcap-w) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend pcap --workers 1 --cpus 1 --lock off --flows "$table" --json -w "$work/file" >"$work/out" 2>"$work/err" & ;;
        labyrinthd-tpacket-w) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend tpacket --workers 1 --cpus 1 --lock off --flows "$table" --json -w "$work/file" >"$work/out" 2>"$work/err" & ;;
        labyrinthd-uring-w) ip netns exec "$ns" taskset -c 1 "$labyrinthd" capture -i vb --backend uring --workers 1 --cpus 1 --lock off --flows "$table" --json --pages-per-room 65536 -w "$work/file" >"$work/out" 2>"$work/err" & ;;
    esac
    consumer=$!
    for _ in $(seq 200); do
        grep -qE "listening|ready|capturing|Capturing" "$work/err" 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.2
}

received_of() { # name -> frames the consumer says it received
    case $1 in
        tcpdump|tcpdump-w) awk '/packets captured/ {print $1}' "$work/err" ;;
        dumpcap-w) sed -n 's/.*Packets captured: \([0-9]*\).*/\1/p' "$work/err" ;;
        pcap-bare|uring-bare|uring-bare-recv|uring-bare-aux) awk '{print $2}' "$work/out" ;;
        labyrinthd-*) python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' "$work/out" ;;
    esac
}

table=$((flows * 2 > 65536 ? flows * 2 : 65536))
consumers=${CONSUMERS:-"tcpdump pcap-bare labyrinthd-pcap labyrinthd-tpacket uring-bare-aux labyrinthd-uring"}
declare -A results
for len in ${SIZES:-64 1500}; do
    count=$([ "$len" = 64 ] && echo "$count64" || echo "$count1500")
    for round in $(seq "$rounds"); do
        for c in $consumers; do
            start_consumer "$c"
            before=$(cpu_ns "$consumer")
            mbefore=$(machine_ns)
            line=$(inns taskset -c 0 "$work/blast" va "$count" "$len" 0 "$flows")
            # tcpdump's blocks retire after its 1 s timeout.
            sleep 1.5
            after=$(cpu_ns "$consumer")
            mafter=$(machine_ns)
            kill -INT "$consumer"
            wait "$consumer" || true
            consumer=
            got=$(received_of "$c")
            if [ -e "$work/file" ]; then
                # What reached the file, by an independent reader.
                written=$(capinfos -c -M "$work/file" 2>/dev/null | awk '/Number of packets/ {print $NF}')
                unwritten=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recording"]["unwritten"])' "$work/out" 2>/dev/null || true)
                echo "  $c wrote ${written:-?} frames${unwritten:+; unwritten $unwritten}" >&2
                rm -f "$work/file"
            fi
            offered=$(echo "$line" | awk '{print $6}')
            python3 - "$got" "$count" "$offered" "$before" "$after" "$mbefore" "$mafter" >>"$work/$c-$len" <<'EOF'
import sys
got, sent, offered, before, after = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
mbefore, mafter = float(sys.argv[6]), float(sys.argv[7])
print(got, 100.0 * (sent - got) / sent, offered, (after - before) / max(got, 1), (mafter - mbefore) / max(got, 1))
EOF
            printf 'round %d %5dB %-20s received %9d  drop %6.3f%%  offered %8.0f pps  %7.1f ns/pkt  machine %7.1f ns/pkt\n' "$round" "$len" "$c" \
                $(tail -1 "$work/$c-$len")
        done
    done
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); sender on CPU 0, consumer on CPU 1; $flows flows (table $table); medians of $rounds rounds"
printf '%-6s %-20s %12s %9s %14s %20s %14s   %s\n' size consumer received "drop %" "offered pps" "CPU ns/pkt (min-max)" "machine ns/pkt" "vs peer (consumer, machine)"
for len in ${SIZES:-64 1500}; do
    for c in $consumers; do
        python3 - "$work/$c-$len" "$len" "$c" "$work" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = [statistics.median(r[i] for r in rows) for i in range(5)]
low = min(r[3] for r in rows)
high = max(r[3] for r in rows)
name = sys.argv[3]
peer = {"labyrinthd-pcap": "tcpdump", "labyrinthd-tpacket": "tcpdump", "labyrinthd-uring": "uring-bare-aux",
        "labyrinthd-pcap-w": "tcpdump-w", "labyrinthd-tpacket-w": "tcpdump-w", "labyrinthd-uring-w": "tcpdump-w",
        "dumpcap-w": "tcpdump-w", "labyrinthd-tpacket-base": "tcpdump"}.get(name)
ratio = "-"
if peer:
    prow = [list(map(float, l.split())) for l in open(f"{sys.argv[4]}/{peer}-{sys.argv[2]}")]
    ratio = "%.2fx, %.2fx %s" % (med[3] / statistics.median(r[3] for r in prow),
                                 med[4] / statistics.median(r[4] for r in prow), peer)
span = "%.1f (%.0f-%.0f)" % (med[3], low, high)
print("%-6s %-20s %12d %9.3f %14.0f %20s %14.1f   %s" % (sys.argv[2] + "B", name, med[0], med[1], med[2], span, med[4], ratio))
EOF
    done
done

echo
echo "heap allocations of labyrinthd capture (64-byte frames):"
for backend in ${MALLOC_BACKENDS:-pcap tpacket uring}; do
    for n in 100000 1000000; do
        rm -f "$work/err"
        ip netns exec "$ns" env LD_PRELOAD="$work/malloc-count.so" taskset -c 1 "$labyrinthd" capture -i vb --backend "$backend" --workers 1 --cpus 1 --lock off --count "$n" --json >"$work/out" 2>"$work/err" &
        consumer=$!
        for _ in $(seq 200); do grep -q capturing "$work/err" 2>/dev/null && break; sleep 0.05; done
        sleep 0.2
        inns taskset -c 0 "$work/blast" va "$n" 64 >/dev/null
        wait "$consumer" || true
        consumer=
        printf '  %-5s %8d frames: %s received, %s\n' "$backend" "$n" "$(received_of labyrinthd-x)" "$(grep mallocs "$work/err")"
    done
done

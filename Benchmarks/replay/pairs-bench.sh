#!/usr/bin/env bash
# pairs-bench.sh — whole-process replay runs against their peers, interleaved
# round by round (Benchmarks/pairs.py): min, median and max of wall time and
# of CPU time per frame, and the ratios to the peer.
#
# Usage: pairs-bench.sh [placement|recording|export|shape|all] [--rounds N]
#
#   placement  6,000,000 x 64 B and 1,000,000 x 1500 B (4096 flows): libpcap's
#              bare pcap_dispatch loop, labyrinthd replay with the default
#              --workers (one per CPU less one: the reader on a CPU of its
#              own), and --workers 2 (the reader shares a worker's CPU).
#   recording  6,000,000 x 64 B to pcapng on tmpfs: tcpdump -r F -w,
#              editcap -F pcapng, labyrinthd replay -w, and labyrinthd replay
#              without -w.
#   export     4,000,000 x 64 B over 1,048,576 flows (about 1.03 M distinct),
#              --workers 1 with a table of 2 M slots, with and without --ipfix
#              to a local nfcapd; then nfcapd's records against ours.
#   shape      the frame's shape's knobs on 6,000,000 x 64 B, --workers 1:
#              without -w, --prefetch 0, 2, 4 (the default) and 8, and
#              --fragment-alignment 8 against 64 (the default); with -w to
#              tmpfs, --chunk-size 16KiB, 32KiB and 64KiB (the default).
#              Not part of all.
#
# Files live in /dev/shm/labyrinth-pairs, removed on exit. Needs a release
# build (make), gcc, libpcap-dev, tcpdump, editcap, nfdump.
set -euo pipefail
export LC_ALL=C
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
what=all
rounds=11
while (($# > 0)); do
    case "$1" in
        placement|recording|export|shape|all) what=$1; shift ;;
        --rounds) rounds=$2; shift 2 ;;
        *) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 64 ;;
    esac
done
L=$root/.build/release/labyrinthd
[ -x "$L" ] || { echo "build first: make" >&2; exit 1; }
work=/dev/shm/labyrinth-pairs
[ -e "$work" ] && { echo "$work exists: another run, or a stale one" >&2; exit 1; }
mkdir "$work"
collector=
cleanup() {
    [ -n "$collector" ] && kill "$collector" 2>/dev/null && wait "$collector" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

gcc -O2 -o "$work/gen-pcap" "$here/gen-pcap.c"
gcc -O2 -o "$work/bare" "$here/pcap-bare-loop.c" -lpcap
echo "machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg); labyrinthd: $L"
echo

pairs() { python3 "$root/Benchmarks/pairs.py" --rounds "$rounds" "$@"; }

if [[ $what == placement || $what == all ]]; then
    "$work/gen-pcap" "$work/small.pcap" 6000000 64 4096
    "$work/gen-pcap" "$work/large.pcap" 1000000 1500 4096
    for f in small:6000000 large:1000000; do
        file=$work/${f%%:*}.pcap
        n=${f##*:}
        pairs --frames "$n" --title "replay placement: $(basename "$file")" \
            "bare-loop=$work/bare $file" \
            "labyrinthd (default --workers)=$L replay --json $file" \
            "labyrinthd --workers 2=$L replay --json --workers 2 $file"
        echo
    done
fi

if [[ $what == recording || $what == all ]]; then
    [ -e "$work/small.pcap" ] || "$work/gen-pcap" "$work/small.pcap" 6000000 64 4096
    f=$work/small.pcap
    pairs --frames 6000000 --title "replay to pcapng on tmpfs (6,000,000 x 64 B)" \
        "tcpdump -r -w=tcpdump -r $f -w $work/tcpdump.pcap" \
        "editcap -F pcapng=editcap -F pcapng $f $work/editcap.pcapng" \
        "labyrinthd replay -w=$L replay --json --workers 1 -w $work/ours.pcapng $f" \
        "labyrinthd replay (no -w)=$L replay --json --workers 1 $f"
    echo
fi

if [[ $what == shape ]]; then
    "$work/gen-pcap" "$work/small.pcap" 6000000 64 4096
    f=$work/small.pcap
    pairs --frames 6000000 --title "replay, prefetch distance and fragment alignment (6,000,000 x 64 B, no -w)" \
        "prefetch 4, align 64 (default)=$L replay --json --workers 1 $f" \
        "prefetch 0=$L replay --json --workers 1 --prefetch 0 $f" \
        "prefetch 2=$L replay --json --workers 1 --prefetch 2 $f" \
        "prefetch 8=$L replay --json --workers 1 --prefetch 8 $f" \
        "align 8=$L replay --json --workers 1 --fragment-alignment 8 $f"
    echo
    pairs --frames 6000000 --title "replay to pcapng on tmpfs by chunk size (6,000,000 x 64 B)" \
        "64KiB (default)=$L replay --json --workers 1 -w $work/ours.pcapng $f" \
        "32KiB=$L replay --json --workers 1 --chunk-size 32KiB -w $work/ours.pcapng $f" \
        "16KiB=$L replay --json --workers 1 --chunk-size 16KiB -w $work/ours.pcapng $f"
    echo
fi

if [[ $what == export || $what == all ]]; then
    "$work/gen-pcap" "$work/flows.pcap" 4000000 64 1048576
    mkdir -p "$work/nfcapd"
    # nfcapd, and its socket bound (polled, at most 5 s).
    start_collector() {
        nfcapd -b 127.0.0.1 -p 47391 -w "$work/nfcapd" -B 33554432 -t 3600 >>"$work/nfcapd.log" 2>&1 &
        collector=$!
        for _ in $(seq 100); do
            ss -Hlun 'sport = :47391' | grep -q . && return
            sleep 0.05
        done
        echo "nfcapd did not bind 127.0.0.1:47391: $(cat "$work/nfcapd.log")" >&2
        exit 1
    }
    start_collector
    f=$work/flows.pcap
    pairs --frames 4000000 --title "replay of 1 M flows with and without IPFIX export (--workers 1)" \
        "no export=$L replay --json --workers 1 --flows 2097152 --pages-per-room 16384 $f" \
        "--ipfix=$L replay --json --workers 1 --flows 2097152 --pages-per-room 16384 --export-ring 1048576 --ipfix 127.0.0.1:47391 $f"
    # Then the counts, run by run: our records against what nfcapd stored
    # (its files, read back with nfdump), and the kernel's UDP receive-buffer
    # drops over the run, at full speed and at --ipfix-rate 200000.
    stored() { nfdump -R "$work/nfcapd" -q -o "fmt:%pkt" 2>/dev/null | grep -c . || true; }
    rcvbuf() { awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp; }
    for rate in "" 200000; do
        kill -TERM "$collector"; wait "$collector" 2>/dev/null || true
        before=$(stored)
        drops=$(rcvbuf)
        start_collector
        "$L" replay --json --workers 1 --flows 2097152 --pages-per-room 16384 --export-ring 1048576 \
            --ipfix 127.0.0.1:47391 ${rate:+--ipfix-rate $rate} "$f" >"$work/one.json"
        kill -TERM "$collector"; wait "$collector" 2>/dev/null || true
        got=$(( $(stored) - before ))
        lost=$(( $(rcvbuf) - drops ))
        start_collector
        python3 - "$work/one.json" "$got" "$lost" "${rate:-none}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
x = r["export"]
print(f"--ipfix-rate {sys.argv[4]}: {x['flows']} flows, {x['records']} records in {x['messages_sent']} messages, "
      f"{x['messages_failed']} failed, {x['dropped']} dropped at the rings; "
      f"{x['records'] / r['elapsed_seconds']:,.0f} records/s over the run ({r['elapsed_seconds']:.3f} s); "
      f"nfcapd stored {sys.argv[2]} records; UDP RcvbufErrors +{sys.argv[3]}")
EOF
    done
    kill -TERM "$collector"; wait "$collector" 2>/dev/null || true; collector=
fi

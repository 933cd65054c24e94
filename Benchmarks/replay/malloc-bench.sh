#!/usr/bin/env bash
# malloc-bench.sh — heap allocations of whole labyrinthd replays, counted by
# Benchmarks/capture/malloc-count.so (LD_PRELOAD): every thread, and the
# workers' threads (lab-irq/N) alone, at 100,000 and 1,000,000 frames of
# 64 B over frames/4 flows, for a plain replay, with recording (-w pcapng,
# a new file every 1 MB: about 10,000 frames), and with IPFIX export (every
# flow ends as records; the collector port answers nothing, sends are
# counted as failed). Nothing may grow with the frames on the workers.
#
# Usage: malloc-bench.sh     (needs a release build: make)
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
L=$here/../../.build/release/labyrinthd
[ -x "$L" ] || { echo "build first: make" >&2; exit 1; }
work=$(mktemp -d /dev/shm/labyrinth-malloc-XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/malloc-count.so" "$here/../capture/malloc-count.c" -ldl
gcc -O2 -o "$work/gen-pcap" "$here/gen-pcap.c"
printf '%-10s %8s  %s\n' path frames "mallocs (all threads, workers)"
for n in 100000 1000000; do
    "$work/gen-pcap" "$work/in-$n.pcap" "$n" 64 $((n / 4)) >/dev/null
done
for what in replay record export; do
    for n in 100000 1000000; do
        case $what in
            replay) extra=() ;;
            record) mkdir -p "$work/rec"; extra=(-w "$work/rec/out.pcapng" -C 1) ;;
            export) extra=(--ipfix 127.0.0.1:9 --export-ring 65536) ;;
        esac
        LD_PRELOAD="$work/malloc-count.so" "$L" replay --json --workers 1 --flows 1048576 "${extra[@]}" \
            "$work/in-$n.pcap" >"$work/out.json" 2>"$work/err" || true
        printf '%-10s %8d  %s\n' "$what" "$n" "$(grep -o 'mallocs.*' "$work/err")"
        rm -rf "$work/rec"
    done
done

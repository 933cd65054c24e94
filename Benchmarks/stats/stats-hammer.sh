#!/usr/bin/env bash
# stats-hammer.sh — does reading counters over the stats socket slow the
# data plane? Replay throughput of a running labyrinthd with and without 100
# clients asking `stats` over and over.
#
# Usage: stats-hammer.sh [--runs R] [--count N]
#   --runs R    rounds (default 5); the modes are interleaved in each round
#   --count N   64-byte frames in the capture (default 20,000,000)
#   --budget B  the daemon's max_requests_per_second (default 2000, the
#               daemon's default; 0 answers as fast as it can)
#
# Modes, each a `labyrinthctl replay` of the same capture at maximum speed
# through the daemon's one worker (pinned to CPU 1):
#   quiet      nobody else talks to the daemon
#   paced      100 clients, 10 stats requests a second each (1,000/s)
#   hammer     100 clients, as fast as the daemon answers, on any CPU
#   hammer0    the same, the clients kept to CPU 0 (taskset), off the
#              worker's CPU, where the daemon also keeps its control plane
# Reported: median packets per second over the runs (elapsed_seconds from
# the daemon's job), its ratio to quiet, and the stats requests answered.
# Work happens in /dev/shm/labyrinth-hammer, removed on exit.
set -euo pipefail
export LC_ALL=C
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
runs=5
count=20000000
budget=2000
while (($# > 0)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --count) count=$2; shift 2 ;;
        --budget) budget=$2; shift 2 ;;
        *) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 64 ;;
    esac
done
labyrinthd=$root/.build/release/labyrinthd
labyrinthctl=$root/.build/release/labyrinthctl
[ -x "$labyrinthd" ] && [ -x "$labyrinthctl" ] || { echo "build first: make (or swift build -c release)" >&2; exit 1; }

work=/dev/shm/labyrinth-hammer
[ -e "$work" ] && { echo "$work exists; remove it first" >&2; exit 1; }
mkdir -p "$work"
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -pthread -o "$work/hammer" "$here/hammer.c"
cc -O2 -o "$work/gen-pcap" "$root/Benchmarks/replay/gen-pcap.c"
"$work/gen-pcap" "$work/64.pcap" "$count" 64 4096 >/dev/null
cat > "$work/labyrinth.toml" <<EOF
[daemon]
socket = "$work/labyrinthd.sock"
max_clients = 256
max_requests_per_second = $budget
[rooms]
pages_per_room = 4096
lock = "best-effort"
[workers]
count = 1
cpus = [1]
EOF
"$labyrinthd" run --config "$work/labyrinth.toml" 2> "$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do "$labyrinthctl" version --socket "$work/labyrinthd.sock" >/dev/null 2>&1 && break; sleep 0.1; done

replay() { # prints packets-per-second of one replay
    "$labyrinthctl" replay --json --socket "$work/labyrinthd.sock" "$work/64.pcap" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["state"]=="done", d; print(d["packets"]/d["elapsed_seconds"])'
}

declare -A pps served
for mode in quiet paced hammer hammer0; do pps[$mode]=""; served[$mode]=""; done
for round in $(seq "$runs"); do
    for mode in quiet paced hammer hammer0; do
        pid=
        case $mode in
            paced) "$work/hammer" "$work/labyrinthd.sock" 100 600 10 > "$work/hammer.out" & pid=$! ;;
            hammer) "$work/hammer" "$work/labyrinthd.sock" 100 600 > "$work/hammer.out" & pid=$! ;;
            hammer0) taskset -c 0 "$work/hammer" "$work/labyrinthd.sock" 100 600 > "$work/hammer.out" & pid=$! ;;
        esac
        [ -n "$pid" ] && sleep 1
        start=$EPOCHREALTIME
        rate=$(replay)
        end=$EPOCHREALTIME
        if [ -n "$pid" ]; then
            kill -TERM "$pid"; wait "$pid" || true
            # Requests answered while the replay ran (the hammer ran 1 s longer).
            answered=$(awk '{print $2}' "$work/hammer.out")
            served[$mode]+="$(python3 -c "print(round($answered / ($end - $start + 1)))") "
        fi
        pps[$mode]+="$rate "
        printf 'round %d %-7s %12.0f pps\n' "$round" "$mode" "$rate"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
quiet=$(echo "${pps[quiet]}" | median)
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $count x 64 B frames, $runs rounds, max_requests_per_second $budget"
printf '%-8s %14s %8s %16s\n' mode "median pps" ratio "stats answers/s"
for mode in quiet paced hammer hammer0; do
    m=$(echo "${pps[$mode]}" | median)
    s=$([ -n "${served[$mode]}" ] && echo "${served[$mode]}" | median || echo "-")
    printf '%-8s %14.0f %8.3f %16s\n' "$mode" "$m" "$(python3 -c "print($m/$quiet)")" "$s"
done

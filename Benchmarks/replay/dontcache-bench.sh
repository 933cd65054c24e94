#!/usr/bin/env bash
# dontcache-bench.sh — what RWF_DONTCACHE does for a long recording on the
# machine's ext4 disk: labyrinthd replay -w to a directory on ext4, with the
# default (RWF_DONTCACHE) and with --cache-writes, interleaved round by round.
#
# Usage: dontcache-bench.sh [--rounds N] [--frames F] [--dir DIR]
#
# Per run: wall time of the replay and of the sync after it (the data on
# disk), the output file's pages left in the page cache (fincore), and the
# change of "Cached" in /proc/meminfo. The input (F x 1500 B) lives in
# /dev/shm so that reading it touches no disk cache. DIR (default
# /var/tmp/labyrinth-dontcache) must be on ext4; it is removed on exit.
set -euo pipefail
export LC_ALL=C
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
rounds=5
frames=1000000
dir=/var/tmp/labyrinth-dontcache
while (($# > 0)); do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 64 ;;
    esac
done
L=$root/.build/release/labyrinthd
[ -x "$L" ] || { echo "build first: make" >&2; exit 1; }
shm=$(mktemp -d /dev/shm/labyrinth-dontcache.XXXXXX)
mkdir -p "$dir"
trap 'rm -rf "$shm" "$dir"' EXIT
fs=$(stat -f -c %T "$dir")
echo "output on $dir ($fs), kernel $(uname -r), $frames x 1500 B, $rounds rounds"
gcc -O2 -o "$shm/gen-pcap" "$here/gen-pcap.c"
"$shm/gen-pcap" "$shm/in.pcap" "$frames" 1500 4096 >/dev/null
cached() { awk '/^Cached:/ {print $2}' /proc/meminfo; }
printf '| round | mode | replay s | sync s | file MiB | file pages cached (MiB) | Cached delta MiB |\n|---|---|---|---|---|---|---|\n'
for r in $(seq "$rounds"); do
    modes=("dontcache" "cache-writes")
    ((r % 2 == 0)) && modes=("cache-writes" "dontcache")
    for m in "${modes[@]}"; do
        out=$dir/out.pcapng
        rm -f "$out"
        sync
        before=$(cached)
        t0=$(date +%s.%N)
        flag=()
        [ "$m" = cache-writes ] && flag=(--cache-writes)
        "$L" replay --lock off --workers 1 -w "$out" "${flag[@]}" "$shm/in.pcap" >/dev/null 2>"$shm/err" \
            || { cat "$shm/err"; exit 1; }
        t1=$(date +%s.%N)
        sync
        t2=$(date +%s.%N)
        after=$(cached)
        size=$(stat -c %s "$out")
        res=$(fincore -b -n -o RES "$out" | tr -d ' ')
        printf '| %d | %s | %.2f | %.2f | %d | %.0f | %+d |\n' "$r" "$m" "$(echo "$t1 - $t0" | bc)" \
            "$(echo "$t2 - $t1" | bc)" $((size >> 20)) "$(echo "$res / 1048576" | bc -l)" $(((after - before) >> 10))
        grep -i "dontcache\|EOPNOTSUPP\|refused" "$shm/err" || true
    done
done

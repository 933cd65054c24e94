#!/usr/bin/env bash
# direct-bench.sh — O_DIRECT against the recording's RWF_DONTCACHE and plain
# buffered writes, on the machine's ext4 disk (issue 16's "try O_DIRECT").
#
# Usage: direct-bench.sh [--rounds N] [--mib M] [--chunk KIB] [--dir DIR]
#
# Runs direct-write.c (M MiB, default 2048, in writes of one chunk, default
# 64 KiB, then fsync) in the three modes, interleaved round by round in a
# rotating order, dropping the page cache between runs; per mode: write s,
# fsync s, CPU s of the writer, MiB/s to durable, min / median / max.
# DIR (default /var/tmp/labyrinth-direct) must be on the disk to measure; it
# is removed on exit. Needs root (drop_caches) and gcc.
set -euo pipefail
export LC_ALL=C
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
rounds=5
mib=2048
chunk=64
dir=/var/tmp/labyrinth-direct
while (($# > 0)); do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --mib) mib=$2; shift 2 ;;
        --chunk) chunk=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 64 ;;
    esac
done
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
gcc -O2 -o "$dir/direct-write" "$here/direct-write.c"
echo "output on $dir ($(stat -f -c %T "$dir"), $(findmnt -n -o SOURCE --target "$dir")), kernel $(uname -r)," \
    "$mib MiB in writes of $chunk KiB, $rounds rounds"
modes=(buffered dontcache direct)
: > "$dir/results"
for r in $(seq "$rounds"); do
    k=$((r % 3))
    for m in "${modes[@]:k}" "${modes[@]:0:k}"; do
        rm -f "$dir/out"
        sync
        echo 3 > /proc/sys/vm/drop_caches
        "$dir/direct-write" "$dir/out" "$mib" "$m" "$chunk" >> "$dir/results"
    done
done
python3 - "$dir/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m, w, f, c, rate = line.split()
    rows.setdefault(m, []).append((float(w), float(f), float(c), float(rate)))
def s(xs):
    xs = sorted(xs)
    return f"{xs[0]:.2f} / {statistics.median(xs):.2f} / {xs[-1]:.2f}"
print("| mode | write s | fsync s | CPU s | MiB/s to durable |")
print("|---|---|---|---|---|")
for m in ("buffered", "dontcache", "direct"):
    v = rows[m]
    print(f"| {m} | {s([x[0] for x in v])} | {s([x[1] for x in v])} | {s([x[2] for x in v])} | "
          f"{s([x[3] for x in v])} |")
PY

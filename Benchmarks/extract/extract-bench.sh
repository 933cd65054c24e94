#!/usr/bin/env bash
# The extraction benchmark (issue 18): a ring of about 4 GiB on the root
# disk recorded by a two-worker replay (64 B or IMIX frames, 100 k flows,
# about a minute of packet time per file), then, with a cold page cache
# before every run (echo 3 > /proc/sys/vm/drop_caches):
#   - one flow over a 10 % time window: labyrinthd extract --flow, against
#     tcpdump -r over the whole ring with the same question as a filter;
#   - the whole ring with a filter: labyrinthd extract -f, against tcpdump;
#   - the index's size as a share of the ring;
#   - what indexing costs the recording: replay -w with and without it.
# Rounds interleave the peers; min, median and max of each.
#   Benchmarks/extract/extract-bench.sh WORKDIR [ROUNDS] [64|imix]
# Needs root (drop_caches) and a release build (swift build -c release).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:?usage: extract-bench.sh WORKDIR [ROUNDS] [64|imix]}
rounds=${2:-5}
sizes=${3:-64}
bin=$PWD/.build/release/labyrinthd
mkdir -p "$work"
cc -O2 -o "$work/gen" Benchmarks/extract/gen.c
if [[ $sizes == 64 ]]; then frames=46000000; else frames=7000000; fi
input=$work/input-$sizes.pcap
[[ -s $input ]] || "$work/gen" "$input" "$frames" 100000 2000 "$sizes"
ring=$work/ring
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
results=$work/results-$sizes.txt
say() { echo "$*" | tee -a "$results"; }

# Recording, with and without the index, interleaved (SKIP_RECORD=1: keep
# the ring and the figures of the last run).
[[ ${SKIP_RECORD:-0} == 1 ]] && sed -i '/^record /!d' "$results" || : > "$results"
for r in $( [[ ${SKIP_RECORD:-0} == 1 ]] || seq "$rounds"); do
    for mode in noindex index; do
        rm -rf "$ring" && mkdir -p "$ring"
        flag=(); [[ $mode == noindex ]] && flag=(--no-index)
        drop
        t0=$(now)
        "$bin" replay --lock off --workers 2 -w "$ring/cap.pcapng" -C 64MiB "${flag[@]}" "$input" > /dev/null
        t1=$(now)
        say "record $mode $(echo "$frames / ($t1 - $t0)" | bc -l)"
    done
done
ring_bytes=$(find "$ring" -name 'cap.*' -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')
index_bytes=$(find "$ring" -name '.*.idx' -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')
files=$(find "$ring" -name 'cap.*' | wc -l)
say "ring $ring_bytes bytes in $files files; index $index_bytes bytes"
find "$ring" -name 'cap.*' | sort > "$work/list"

# (tcpdump -Z root: it drops to its own user after the first file, and
# the recordings are 0640.)
# One flow (10.0.48.57 <-> 172.16.48.57) over the middle 10 % of the time.
span=2000000000000
start=$((1700000000000000000 + span * 45 / 100))
stop=$((1700000000000000000 + span * 55 / 100))
sec() { printf '%d.%09d' $(($1 / 1000000000)) $(($1 % 1000000000)); }
for r in $(seq "$rounds"); do
    drop
    t0=$(now)
    "$bin" extract --dir "$ring" --flow "10.0.48.57 172.16.48.57" --from "$(sec $start)" --to "$(sec $stop)" \
        -w "$work/flow.pcapng" --json 2> "$work/flow.json"
    t1=$(now)
    drop
    t2=$(now)
    tcpdump -Z root -nn -w "$work/flow-tcpdump.pcap" -V "$work/list" 'host 10.0.48.57 and host 172.16.48.57' 2> /dev/null
    t3=$(now)
    say "flow extract $(echo "$t1 - $t0" | bc -l) tcpdump $(echo "$t3 - $t2" | bc -l) $(tail -1 "$work/flow.json")"
done

# The whole ring with a filter.
filter='udp port 2000'
for r in $(seq "$rounds"); do
    drop
    t0=$(now)
    "$bin" extract --dir "$ring" -f "$filter" -w "$work/filter.pcapng" --json 2> "$work/filter.json"
    t1=$(now)
    drop
    t2=$(now)
    tcpdump -Z root -nn -w "$work/filter-tcpdump.pcap" -V "$work/list" "$filter" 2> /dev/null
    t3=$(now)
    say "filter extract $(echo "$t1 - $t0" | bc -l) tcpdump $(echo "$t3 - $t2" | bc -l) $(tail -1 "$work/filter.json")"
done
python3 Benchmarks/extract/summarize.py "$results"

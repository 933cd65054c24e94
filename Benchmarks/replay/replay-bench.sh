#!/usr/bin/env bash
# replay-bench.sh — offline-replay throughput of labyrinthd vs. libpcap peers.
#
# Usage: replay-bench.sh [--runs R] [--labyrinthd PATH]
#   --runs R           rounds per file (default 5); tools are interleaved
#                      within each round
#   --labyrinthd PATH  daemon binary (default: ../../.build/release/labyrinthd
#                      relative to this script); if it does not exist the
#                      labyrinthd rows are skipped with a note
#
# Environment:
#   SMALL=1            quick self-test: 200,000 x 64 B and 20,000 x 1500 B
#   SMALL_COUNT=N      override the 64-byte frame count  (default 10,000,000)
#   LARGE_COUNT=N      override the 1500-byte frame count (default 1,000,000)
#   FLOWS=N            flows per file (default 4096)
#
# Work happens in /dev/shm/labyrinth-bench (tmpfs), which the script creates
# and always removes on exit; it refuses to run if that directory exists.
#
# Peers per file and round:
#   (a) pcap-bare-loop F                      libpcap pcap_dispatch loop,
#                                             callback counts only
#   (b) tcpdump -r F -w /dev/null
#   (c) labyrinthd replay --workers 1 --json F
#   (d) labyrinthd replay --workers 2 --json F
# Wall time of every process is taken with bash's $EPOCHREALTIME around
# fork+wait.  pcap-bare-loop additionally reports its own loop-only time
# (CLOCK_MONOTONIC), labyrinthd its "elapsed_seconds" JSON key if present.

set -euo pipefail
export LC_ALL=C   # '.' as decimal separator in $EPOCHREALTIME and tool output

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR=/dev/shm/labyrinth-bench

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() { printf 'replay-bench: %s\n' "$*" >&2; exit 1; }

RUNS=5
LABYRINTHD="$SCRIPT_DIR/../../.build/release/labyrinthd"
while (($# > 0)); do
    case "$1" in
        --runs)        (($# >= 2)) || die "--runs needs a value"; RUNS="$2"; shift 2 ;;
        --runs=*)      RUNS="${1#*=}"; shift ;;
        --labyrinthd)  (($# >= 2)) || die "--labyrinthd needs a value"; LABYRINTHD="$2"; shift 2 ;;
        --labyrinthd=*) LABYRINTHD="${1#*=}"; shift ;;
        -h|--help)     usage; exit 0 ;;
        *)             usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer (got '$RUNS')"

if [[ "${SMALL:-0}" == 1 ]]; then
    SMALL_COUNT="${SMALL_COUNT:-200000}"
    LARGE_COUNT="${LARGE_COUNT:-20000}"
else
    SMALL_COUNT="${SMALL_COUNT:-10000000}"
    LARGE_COUNT="${LARGE_COUNT:-1000000}"
fi
FLOWS="${FLOWS:-4096}"
for v in SMALL_COUNT LARGE_COUNT FLOWS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done

for t in gcc tcpdump python3; do
    command -v "$t" >/dev/null 2>&1 || die "required tool not found: $t"
done
[[ -n "${EPOCHREALTIME:-}" ]] || die "bash >= 5 required (\$EPOCHREALTIME)"

# Resolve the daemon path now (before anything changes directory).
HAVE_LABYRINTHD=0
if [[ -e "$LABYRINTHD" ]]; then
    LABYRINTHD="$(cd -- "$(dirname -- "$LABYRINTHD")" && pwd)/$(basename -- "$LABYRINTHD")"
    [[ -x "$LABYRINTHD" ]] || die "labyrinthd at $LABYRINTHD is not executable"
    HAVE_LABYRINTHD=1
fi

# ---------------------------------------------------------------- cleanup
CHILD_PID=""
CREATED_DIR=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # The timed child runs in its own process group (pgid == CHILD_PID), so
    # this also reaches anything it forked; escalate to KILL after ~2 s.
    if [[ -n "$CHILD_PID" ]]; then
        kill -TERM -- "-$CHILD_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 20; i++)); do
            kill -0 -- "-$CHILD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    if ((CREATED_DIR)); then
        rm -rf -- "$BENCH_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- setup
[[ -d /dev/shm ]] || die "/dev/shm not present"
if [[ -e "$BENCH_DIR" ]]; then
    die "$BENCH_DIR already exists (another run in progress, or a stale one: remove it)"
fi
mkdir -m 0755 -- "$BENCH_DIR"   # atomic: fails if someone raced us
CREATED_DIR=1

need_bytes=$(( 24 + SMALL_COUNT * (16 + 64) + 24 + LARGE_COUNT * (16 + 1500) ))
avail_bytes=$(df --output=avail -B1 -- "$BENCH_DIR" | tail -n 1 | tr -d ' ')
if (( avail_bytes < need_bytes + 64 * 1024 * 1024 )); then
    die "not enough space in /dev/shm: need ~$((need_bytes / 1048576)) MiB, have $((avail_bytes / 1048576)) MiB"
fi

BARE="$BENCH_DIR/pcap-bare-loop"
GEN="$BENCH_DIR/gen-pcap"
gcc -O2 -Wall -o "$BARE" "$SCRIPT_DIR/pcap-bare-loop.c" -lpcap
gcc -O2 -Wall -o "$GEN" "$SCRIPT_DIR/gen-pcap.c"

SMALL_PCAP="$BENCH_DIR/small.pcap"
LARGE_PCAP="$BENCH_DIR/large.pcap"
RESULTS="$BENCH_DIR/results.tsv"
: >"$RESULTS"

cpu_model="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo || true)"
[[ -n "$cpu_model" ]] || cpu_model=unknown
echo "# Labyrinth replay benchmark"
echo
echo "machine: nproc=$(nproc) cpu=\"$cpu_model\" kernel=$(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(tcpdump --version 2>&1 | head -n 2 | tr '\n' ' ')| $(gcc --version | head -n 1)"
echo "rounds: $RUNS (interleaved), frames: $SMALL_COUNT x 64 B, $LARGE_COUNT x 1500 B, flows: $FLOWS"
if ((HAVE_LABYRINTHD)); then
    echo "labyrinthd: $LABYRINTHD"
else
    echo "labyrinthd: NOT FOUND at $LABYRINTHD — skipping the labyrinthd rows"
fi
echo
echo "## Commands"
echo
echo '```'
echo "gcc -O2 -Wall -o $BARE $SCRIPT_DIR/pcap-bare-loop.c -lpcap"
echo "gcc -O2 -Wall -o $GEN $SCRIPT_DIR/gen-pcap.c"
echo "$GEN $SMALL_PCAP $SMALL_COUNT 64 $FLOWS"
echo "$GEN $LARGE_PCAP $LARGE_COUNT 1500 $FLOWS"
echo "# per file F, per round (wall time = \$EPOCHREALTIME around fork+wait, stdin </dev/null):"
echo "$BARE F >stdout 2>stderr"
echo "tcpdump -r F -w /dev/null >/dev/null 2>stderr"
if ((HAVE_LABYRINTHD)); then
    echo "$LABYRINTHD replay --workers 1 --json F >stdout 2>stderr"
    echo "$LABYRINTHD replay --workers 2 --json F >stdout 2>stderr"
fi
echo '```'
echo

t_gen0=$EPOCHREALTIME
"$GEN" "$SMALL_PCAP" "$SMALL_COUNT" 64 "$FLOWS"
"$GEN" "$LARGE_PCAP" "$LARGE_COUNT" 1500 "$FLOWS"
t_gen1=$EPOCHREALTIME
echo "generated both files in $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t_gen0" "$t_gen1") s" >&2

# ---------------------------------------------------------------- running
# run_timed OUT ERR CMD...  — runs CMD in the background in its own process
# group (set -m just around the fork, so the EXIT trap can kill the whole
# group), waits, sets T0/T1 (wall clock) and RC.
T0="" T1="" RC=0
run_timed() {
    local out="$1" err="$2"
    shift 2
    RC=0
    T0=$EPOCHREALTIME
    set -m
    "$@" </dev/null >"$out" 2>"$err" &
    CHILD_PID=$!
    set +m
    wait "$CHILD_PID" || RC=$?
    T1=$EPOCHREALTIME
    CHILD_PID=""
}

# record FILE TOOL TIMING ROUND PACKETS START END|SECONDS
#   timing "wall": START and END are $EPOCHREALTIME stamps
#   otherwise    : START is "-" and END is a duration in seconds
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
}

record_fail() {   # FILE TOOL ROUND
    record "$1" "$2" "failed" "$3" 0 - 0
}

loud() {
    printf '\n!!!!!!!!!! %s !!!!!!!!!!\n\n' "$*" | tee /dev/stderr
}

# Prints "packets|elapsed_seconds" (either may be empty) or "NOJSON".
parse_json() {
    python3 - "$1" <<'PY'
import json, sys
txt = open(sys.argv[1], encoding="utf-8", errors="replace").read()
obj = None
try:
    obj = json.loads(txt)
except ValueError:
    for line in reversed(txt.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                break
            except ValueError:
                pass
if not isinstance(obj, dict):
    print("NOJSON")
    sys.exit(0)
def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)
p, e = obj.get("packets"), obj.get("elapsed_seconds")
print("%s|%s" % (repr(p) if num(p) else "", repr(e) if num(e) else ""))
PY
}

OUT="$BENCH_DIR/out.txt"
ERR="$BENCH_DIR/err.txt"

show_err() {
    echo "--- stderr (last 20 lines) ---" >&2
    tail -n 20 -- "$ERR" >&2 || true
    echo "--- stdout (last 5 lines) ---" >&2
    tail -n 5 -- "$OUT" >&2 || true
}

bench_bare() {   # FILE LABEL EXPECTED ROUND
    local f="$1" label="$2" expected="$3" round="$4" line pk secs
    run_timed "$OUT" "$ERR" "$BARE" "$f"
    if ((RC != 0)); then
        loud "pcap-bare-loop FAILED (exit $RC) on $label round $round"; show_err
        record_fail "$label" "pcap-bare-loop" "$round"; return 0
    fi
    line="$(head -n 1 -- "$OUT")"
    [[ "$line" =~ packets=([0-9]+)\ .*seconds=([0-9.]+) ]] || {
        loud "pcap-bare-loop: unparseable output: $line"
        record_fail "$label" "pcap-bare-loop" "$round"; return 0; }
    pk="${BASH_REMATCH[1]}" secs="${BASH_REMATCH[2]}"
    if [[ "$pk" != "$expected" ]]; then
        loud "MISMATCH: pcap-bare-loop read $pk packets from $label, expected $expected"
    fi
    record "$label" "pcap-bare-loop" "loop" "$round" "$pk" "-" "$secs"
    record "$label" "pcap-bare-loop" "wall" "$round" "$pk" "$T0" "$T1"
}

bench_tcpdump() {   # FILE LABEL EXPECTED ROUND
    local f="$1" label="$2" expected="$3" round="$4"
    # tcpdump writes nothing to stdout with -w; send it to /dev/null anyway.
    run_timed /dev/null "$ERR" tcpdump -r "$f" -w /dev/null
    if ((RC != 0)); then
        loud "tcpdump FAILED (exit $RC) on $label round $round"; show_err
        record_fail "$label" "tcpdump -w /dev/null" "$round"; return 0
    fi
    # tcpdump -w does not report a count; assume the full file was read.
    record "$label" "tcpdump -w /dev/null" "wall" "$round" "$expected" "$T0" "$T1"
}

bench_labyrinthd() {   # FILE LABEL EXPECTED ROUND WORKERS
    local f="$1" label="$2" expected="$3" round="$4" workers="$5" parsed pk el
    local tool="labyrinthd --workers $workers"
    run_timed "$OUT" "$ERR" "$LABYRINTHD" replay --workers "$workers" --json "$f"
    if ((RC != 0)); then
        loud "labyrinthd replay --workers $workers FAILED (exit $RC) on $label round $round"
        show_err; record_fail "$label" "$tool" "$round"; return 0
    fi
    parsed="$(parse_json "$OUT")"
    if [[ "$parsed" == NOJSON ]]; then
        loud "labyrinthd --workers $workers printed no JSON object on $label round $round"
        show_err; record_fail "$label" "$tool" "$round"; return 0
    fi
    pk="${parsed%%|*}" el="${parsed#*|}"
    if [[ -z "$pk" ]]; then
        loud "MISMATCH: labyrinthd --workers $workers JSON has no numeric \"packets\" key ($label round $round); using the generated count for pps"
        pk="$expected"
    elif [[ "$pk" != "$expected" ]]; then
        loud "MISMATCH: labyrinthd --workers $workers reported packets=$pk on $label, generated $expected"
    fi
    record "$label" "$tool" "wall" "$round" "$pk" "$T0" "$T1"
    if [[ -n "$el" ]]; then
        record "$label" "$tool" "elapsed_seconds" "$round" "$pk" "-" "$el"
    fi
}

for spec in "small.pcap|$SMALL_PCAP|$SMALL_COUNT" "large.pcap|$LARGE_PCAP|$LARGE_COUNT"; do
    IFS='|' read -r label path count <<<"$spec"
    for ((round = 1; round <= RUNS; round++)); do
        echo "$label round $round/$RUNS" >&2
        bench_bare "$path" "$label" "$count" "$round"
        bench_tcpdump "$path" "$label" "$count" "$round"
        if ((HAVE_LABYRINTHD)); then
            bench_labyrinthd "$path" "$label" "$count" "$round" 1
            bench_labyrinthd "$path" "$label" "$count" "$round" 2
        fi
    done
done

# ---------------------------------------------------------------- report
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" "$SMALL_COUNT" "$LARGE_COUNT" "$HAVE_LABYRINTHD" "$RUNS" <<'PY'
import sys
from decimal import Decimal
from statistics import median

path, small_n, large_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
have_lab, runs = sys.argv[4] == "1", int(sys.argv[5])
rows = {}    # (file, tool, timing) -> list of (round, packets, seconds)
fails = {}   # (file, tool) -> number of failed rounds
order = []   # (file, tool, timing) in first-seen order, incl. failure markers
for line in open(path):
    f, tool, timing, rnd, pk, a, b = line.rstrip("\n").split("\t")
    if timing == "failed":
        fails[(f, tool)] = fails.get((f, tool), 0) + 1
        key = (f, tool, "failed")
        if key not in order:
            order.append(key)
        continue
    secs = float(Decimal(b) - Decimal(a)) if a != "-" else float(b)
    key = (f, tool, timing)
    if key not in rows:
        rows[key] = []
        order.append(key)
    rows[key].append((int(rnd), int(float(pk)), secs))

def fmt_pps(x):
    return "{:,.0f}".format(x)

def stats(key):
    r = rows.get(key)
    if not r:
        return None
    pps = [pk / s if s > 0 else float("inf") for _, pk, s in r]
    return dict(med=median(pps), lo=min(pps), hi=max(pps),
                med_s=median(s for _, _, s in r), n=len(r))

files = [("small.pcap", small_n, 64), ("large.pcap", large_n, 1500)]
for f, n, flen in files:
    print("## %s (%s x %d-byte frames)" % (f, "{:,}".format(n), flen))
    print()
    print("| tool | timing | median pps | min pps | max pps | median s | rounds ok | vs bare loop | vs tcpdump |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    bare_loop = stats((f, "pcap-bare-loop", "loop"))
    bare_wall = stats((f, "pcap-bare-loop", "wall"))
    tcpd = stats((f, "tcpdump -w /dev/null", "wall"))
    for key in [k for k in order if k[0] == f]:
        _, tool, timing = key
        if timing == "failed":
            if not any(k[0] == f and k[1] == tool and k[2] != "failed" for k in rows):
                print("| %s | **FAILED in %d/%d rounds** | | | | | 0/%d | | |" % (
                    tool, fails[(f, tool)], runs, runs))
            continue
        s = stats(key)
        ref = bare_wall if timing == "wall" else bare_loop
        vs_bare = "%.3f" % (s["med"] / ref["med"]) if ref else "n/a"
        if tcpd:
            vs_tcpd = "%.3f" % (s["med"] / tcpd["med"])
            if timing != "wall":
                vs_tcpd += " †"
        else:
            vs_tcpd = "n/a"
        name = tool
        if any(pk != n for _, pk, _ in rows[key]):
            name += " **MISMATCH**"
        label = {"loop": "in-process (loop only)", "wall": "process wall",
                 "elapsed_seconds": "JSON elapsed_seconds"}[timing]
        ok = "%d/%d" % (s["n"], runs)
        if fails.get((f, tool)):
            ok += " (%d failed)" % fails[(f, tool)]
        print("| %s | %s | %s | %s | %s | %.4f | %s | %s | %s |" % (
            name, label, fmt_pps(s["med"]), fmt_pps(s["lo"]), fmt_pps(s["hi"]),
            s["med_s"], ok, vs_bare, vs_tcpd))
    if not have_lab:
        print("| labyrinthd --workers 1/2 | skipped: binary not found | | | | | | | |")
    print()
print("Ratios are median pps / median pps.  'vs bare loop' compares like with like:")
print("process-wall rows against the bare loop's process-wall median, in-process rows")
print("(loop-only timer, JSON elapsed_seconds) against the bare loop's loop-only median.")
print("'vs tcpdump' divides by tcpdump's process-wall median (its only timing); † marks")
print("in-process rows, where that ratio is NOT like for like (excludes startup/open/exit).")
print("pps for labyrinthd uses its JSON \"packets\"; tcpdump -w reports no count and is")
print("credited with the generated count.")
print()
print("### Raw seconds per round")
print()
for key in order:
    if key[2] == "failed":
        continue
    f, tool, timing = key
    print("- %s / %s / %s: %s" % (f, tool, timing,
          " ".join("%.4f" % s for _, _, s in sorted(rows[key]))))
PY

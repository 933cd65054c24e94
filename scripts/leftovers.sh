#!/usr/bin/env bash
# What a command leaves behind: /tmp's entries, network namespaces, processes.
#   scripts/leftovers.sh snapshot [STATE]   records them (STATE: a directory, default .build/leftovers)
#   scripts/leftovers.sh compare [STATE]    fails, listing each, when there is anything new since
# .ci/run takes a snapshot before the README's test command and compares
# after it. Only top-level names in /tmp are compared (the Swift driver's
# empty TemporaryDirectory.* aside, see tmp_entries). Processes are
# compared by PID and start time, leaving out kernel threads, this script
# and its ancestors (the CI shell) and children (ps), and processes in
# sessions that already existed other than this one (a shared machine's
# other work): a process the tests leave is in this session or a new one.
# Something that is still going away when compared (a process exiting) gets
# LEFTOVERS_WAIT seconds (default 10) to go: compare polls until then.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
state=${2:-.build/leftovers}

# /tmp's top-level names, less one kind that is Swift's and not the tests':
# every `swiftc -print-target-info` (several per `swift build` or `swift
# test`) makes /tmp/TemporaryDirectory.XXXXXX holding only .keep-directory
# and execs the frontend, which never removes it (seen with strace). Those
# are left out only while they hold nothing else.
tmp_entries() {
    local name
    find /tmp -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | while read -r name; do
        if [[ $name == TemporaryDirectory.?????? && -d /tmp/$name ]] &&
            [[ -z $(find "/tmp/$name" -mindepth 1 -maxdepth 1 ! -name .keep-directory -print -quit) ]]; then
            continue
        fi
        echo "$name"
    done
}
# (None where iproute2 is not installed yet: the test command installs it.)
namespaces() {
    command -v ip >/dev/null || return 0
    ip netns list | awk '{ print $1 }' | LC_ALL=C sort
}

# Every process as "PID SID PPID START ARGS", START from /proc (clock ticks
# since boot), so that a PID reused by a new process counts as new.
all_processes() {
    local d stat rest pid ppid sid start args
    for d in /proc/[0-9]*; do
        stat=$(cat "$d/stat" 2>/dev/null) || continue
        pid=${d#/proc/}
        rest=${stat##*) } # from field 3 (state) on: ppid is 4, session 6, starttime 22
        read -r _ ppid _ sid _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ start _ <<<"$rest"
        args=$(tr '\0\n\t' '   ' <"$d/cmdline" 2>/dev/null | cut -c1-200) || args=
        [[ -n $args ]] || args="[$(sed 's/^[0-9]* (\(.*\)) .*/\1/' <<<"$stat")]"
        echo "$pid $sid $ppid $start $args"
    done
}

# The processes to compare: all but kernel threads, this script's
# ancestors and descendants.
processes() {
    local all mine p
    all=$(all_processes)
    # This script's ancestors.
    mine=" $$ "
    p=$$
    while [[ $p -gt 1 ]]; do
        p=$(awk -v p="$p" '$1 == p { print $3 }' <<<"$all")
        [[ -n $p ]] || break
        mine+="$p "
    done
    awk -v mine="$mine" -v self=$$ '
        { pid[NR] = $1; ppid[NR] = $3; line[NR] = $0; parent[$1] = $3 }
        END {
            for (i = 1; i <= NR; i++) {
                if (pid[i] == 2 || ppid[i] == 2) continue        # kernel threads
                if (index(mine, " " pid[i] " ")) continue        # this script and its ancestors
                p = ppid[i]; child = 0                           # its descendants (ps, awk, subshells)
                for (n = 0; n < 64 && p > 1; n++) { if (p == self) { child = 1; break }; p = parent[p] }
                if (!child) print line[i]
            }
        }' <<<"$all" | LC_ALL=C sort -n
}

new_entries() { # new_entries BEFORE-FILE: names now that were not before
    LC_ALL=C comm -13 "$1" -
}

new_processes() {
    local own_sid stat
    stat=$(cat /proc/$$/stat)
    read -r _ _ _ own_sid _ <<<"${stat##*) }"
    # Sessions seen before, other than this one: other work on the machine.
    processes | awk -v own="$own_sid" -v before="$state/processes" '
        BEGIN { while ((getline l < before) > 0) { split(l, f, " "); seen[f[1] " " f[4]] = 1; if (f[2] != own) old[f[2]] = 1 } }
        !(($1 " " $4) in seen) && !($2 in old) { print }'
}

case $what in
snapshot)
    mkdir -p "$state"
    tmp_entries >"$state/tmp"
    namespaces >"$state/netns"
    processes >"$state/processes"
    echo "leftovers: snapshot of /tmp ($(wc -l <"$state/tmp") entries), network namespaces ($(wc -l <"$state/netns")) and processes ($(wc -l <"$state/processes")) in $state"
    ;;
compare)
    [[ -f $state/tmp && -f $state/netns && -f $state/processes ]] || {
        echo "leftovers: no snapshot in $state (run: $0 snapshot $state)" >&2
        exit 2
    }
    deadline=$((SECONDS + ${LEFTOVERS_WAIT:-10}))
    while true; do
        tmp=$(tmp_entries | new_entries "$state/tmp")
        netns=$(namespaces | new_entries "$state/netns")
        procs=$(new_processes)
        [[ -z $tmp$netns$procs ]] && break
        ((SECONDS < deadline)) || break
        sleep 0.5 # polling, until the deadline, for what is still going away
    done
    if [[ -z $tmp$netns$procs ]]; then
        echo "leftovers: none (/tmp, network namespaces and processes as before)"
        exit 0
    fi
    echo "leftovers: the command left these behind:"
    [[ -z $tmp ]] || { echo "  in /tmp ($(grep -c . <<<"$tmp")):"; head -50 <<<"$tmp" | sed 's/^/    \/tmp\//'; }
    [[ -z $netns ]] || { echo "  network namespaces ($(grep -c . <<<"$netns")):"; sed 's/^/    /' <<<"$netns"; }
    [[ -z $procs ]] || {
        echo "  processes ($(grep -c . <<<"$procs")), PID SESSION PARENT START COMMAND:"
        head -50 <<<"$procs" | sed 's/^/    /'
    }
    exit 1
    ;;
*)
    echo "usage: $0 snapshot|compare [STATE-DIRECTORY]" >&2
    exit 2
    ;;
esac

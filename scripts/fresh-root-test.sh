#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12, for real: builds a minbase
# Debian 12 root with debootstrap, adds only what Swift needs (the list in
# the README, SWIFT_DEBS below), clones this repository into it, and runs
# `scripts/demo.sh` then `scripts/test.sh` (between `scripts/leftovers.sh
# snapshot` and `compare`) as root in a chroot with mount and
# PID namespaces of its own: a fresh /proc (so /proc/sys is writable), /sys,
# /dev with its own /dev/shm, a tmpfs on /run (for `ip netns`), the host's
# network. Prints how long each stage took. As root, on a Debian host:
#
#   scripts/fresh-root-test.sh [ROOT]      ROOT defaults to /var/tmp/labyrinth-fresh-root
#
#   FRESH_ROOT_STAGES="root clone demo test"   the stages to run (a later run may reuse the root)
#   FRESH_ROOT_KEEP=1                          keep ROOT afterwards (removed by default)
#   FRESH_ROOT_LOCK=/tmp/swift-build.lock      hold this lock (flock) during each of the two commands
#   (run it under `nice -n 19` to leave the machine to others: every stage inherits it)
#   SWIFT_ROOT=/opt/swift                      the toolchain, bind-mounted read-only at the same path
#
# From the host it takes, and replicates into the root: the Debian mirror
# (from apt's own sources: `apt-get indextargets`), apt's sources, git's
# system and global url rewriting (where Swift packages resolve from, e.g.
# a local mirror), the CA certificates added under /usr/local/share
# (the ones the host's HTTPS to PyPI may need) and /etc/resolv.conf.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/var/tmp/labyrinth-fresh-root}
stages=${FRESH_ROOT_STAGES:-root clone demo test}
swift_root=${SWIFT_ROOT:-/opt/swift}
# What Swift 6.3 needs on Debian 12 (swift.org's list for Debian 12), and
# git and ca-certificates to clone and fetch.
SWIFT_DEBS=(binutils-gold gcc libc6-dev libstdc++-12-dev libcurl4-openssl-dev libedit-dev libicu-dev
    libncurses-dev libpython3-dev libsqlite3-dev libxml2-dev pkg-config tzdata uuid-dev git ca-certificates)

[[ $(id -u) -eq 0 ]] || { echo "fresh-root-test: run as root (debootstrap, chroot, namespaces)" >&2; exit 2; }
[[ -x $swift_root/usr/bin/swift ]] || { echo "fresh-root-test: no toolchain at $swift_root" >&2; exit 2; }
has() { [[ " $stages " == *" $1 "* ]]; }
started=$SECONDS
declare -a timings=()
stage() { # stage NAME COMMAND...: runs it, records how long it took
    local name=$1 t0=$SECONDS rc=0
    shift
    echo "== fresh-root-test: $name ($((SECONDS - started)) s)"
    "$@" || rc=$?
    timings+=("$name: $((SECONDS - t0)) s, exit $rc")
    if ((rc != 0)); then
        report
        echo "fresh-root-test: $name failed (exit $rc)" >&2
        exit "$rc"
    fi
}
report() {
    echo "== fresh-root-test: $(date -u +%FT%TZ), $(nproc) CPUs, root $root"
    printf '   %s\n' "${timings[@]}"
}
cleanup() {
    # The mounts live in the chroot's own mount namespace and go with it;
    # only the directory is left, and is removed unless asked to keep it.
    if [[ ${FRESH_ROOT_KEEP:-0} != 1 && -d $root ]]; then
        if grep -q " $root/" /proc/self/mounts; then
            echo "fresh-root-test: something is still mounted under $root; not removing it" >&2
        else
            rm -rf --one-file-system "$root"
        fi
    fi
}
trap cleanup EXIT

make_root() {
    command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; }
    local mirror
    mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk '$2 == "bookworm" { print $1; exit }')
    [[ -n $mirror ]] || { echo "fresh-root-test: apt's sources name no bookworm mirror" >&2; return 1; }
    rm -rf --one-file-system "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror"
    # The host's apt sources (bookworm, -updates, -security), its resolver,
    # the CA certificates it added, and git's url rewriting.
    rm -f "$root/etc/apt/sources.list"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && mkdir -p "$root$(dirname "$f")" && cp "$f" "$root$f"
    done
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    in_root apt-get update -q
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${SWIFT_DEBS[@]}"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        in_root update-ca-certificates
    fi
    local scope
    for scope in system global; do
        git config "--$scope" --get-regexp '^url\..*\.insteadof$' | while read -r key value; do
            in_root git config "--$scope" --add "$key" "$value"
        done || true
    done
    echo "root made: $(du -sh --one-file-system "$root" | cut -f1), $(in_root dpkg-query -W | wc -l) packages"
}

clone() {
    rm -rf "$root/root/labyrinth"
    git clone -q "$repo" "$root/root/labyrinth"
    echo "cloned $(git -C "$root/root/labyrinth" log -1 --format='%h %s' | cut -c1-100)"
}

# The local directories git's url rewriting points at (where Swift packages
# resolve from), bind-mounted read-only at the same paths in the root.
local_mirrors() {
    local scope key
    for scope in system global; do
        git config "--$scope" --get-regexp '^url\..*\.insteadof$' || true
    done | while read -r key _; do
        key=${key#url.}
        key=${key%.insteadof}
        [[ $key == /* && -d $key ]] && echo "${key%/}"
    done | sort -u
}

# in_root COMMAND...: runs COMMAND as root in the chroot, in new mount and
# PID namespaces, with /proc, /sys, /dev, /dev/shm, /run, the toolchain and
# the package mirrors mounted; PATH has the toolchain, as the README expects.
in_root() {
    local binds
    binds=$(printf '%s\n' "$swift_root" $(local_mirrors))
    unshare --mount --pid --fork --propagation private /bin/bash -c '
        set -e
        root=$1 swift=$2 binds=$3
        shift 3
        # The root a mount point of its own: `ip netns exec` remounts / as
        # a slave, which a plain directory cannot be.
        mount --bind "$root" "$root"
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
        mount -t tmpfs -o mode=755 run "$root/run"
        while read -r dir; do
            mkdir -p "$root$dir"
            mount --bind -o ro "$dir" "$root$dir"
        done <<<"$binds"
        exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
            PATH="$swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
    ' in-root "$root" "$swift_root" "$binds" "$@"
}

# The README's commands, as typed in the clone; with FRESH_ROOT_LOCK, under
# that lock (one Swift build at a time on a shared machine).
readme_command() {
    if [[ -n ${FRESH_ROOT_LOCK:-} ]]; then
        local t0=$SECONDS
        exec 9>>"$FRESH_ROOT_LOCK"
        flock 9
        echo "fresh-root-test: waited $((SECONDS - t0)) s for $FRESH_ROOT_LOCK"
        timings+=("$1: waited $((SECONDS - t0)) s for the lock (counted in its time below)")
    fi
    local rc=0
    if [[ $1 == scripts/test.sh ]]; then
        # The test command, between the leftovers check's two halves (in
        # the root's PID namespace the process list is the tests' alone).
        in_root /bin/bash -c 'cd /root/labyrinth && scripts/leftovers.sh snapshot /var/tmp/leftovers &&
            { scripts/test.sh; rc=$?; scripts/leftovers.sh compare /var/tmp/leftovers || ((rc)) || rc=1; exit $rc; }' ||
            rc=$?
    else
        in_root /bin/bash -c 'cd /root/labyrinth && exec "$0"' "$1" || rc=$?
    fi
    [[ -n ${FRESH_ROOT_LOCK:-} ]] && exec 9>&-
    return "$rc"
}

# What the test command left in the root's /tmp, all of it (the check
# above leaves out the Swift driver's own).
tmp_left() {
    local left
    left=$(find "$root/tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
    echo "left in the root's /tmp after the tests: $(grep -c . <<<"$left" || true) entries"
    [[ -z $left ]] || head -20 <<<"$left" | sed 's/^/   /'
}

has root && stage "debootstrap minbase bookworm, then Swift's packages" make_root
has clone && stage "git clone" clone
has demo && stage "scripts/demo.sh" readme_command scripts/demo.sh
has test && stage "scripts/test.sh" readme_command scripts/test.sh && tmp_left
report

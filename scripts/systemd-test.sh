#!/bin/bash
# The daemon under a real systemd: boots one in a container
# (systemd-nspawn -D / --volatile=yes -b) with the installed units, the build
# and a test unit bound in, runs scripts/systemd-test-inside.sh there as a
# service, and reads the results back from a bound folder.
#
#   scripts/systemd-test.sh [BUILD_DIR [HOOKS_BUILD_DIR]]
#
# BUILD_DIR holds labyrinthd and labyrinthctl (default .build/release, built
# with --static-swift-stdlib by `make`). A build that links the Swift runtime
# dynamically works too: the runtime is bound in read-only.
# HOOKS_BUILD_DIR (default .build/debug) holds a labyrinthd built with the
# test hooks (a debug build): the watchdog test stalls a worker with it,
# since a release build has no hooks (and refuses their keys).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-.build/release}
hooks=${2:-.build/debug}
[ -x "$build/labyrinthd" ] && [ -x "$build/labyrinthctl" ] || { echo "systemd-test: no binaries in $build (run make)" >&2; exit 2; }
[ -x "$hooks/labyrinthd" ] || { echo "systemd-test: no labyrinthd with test hooks in $hooks (run swift build)" >&2; exit 2; }

work=$(mktemp -d /tmp/labyrinth-systemd-XXXXXX)
machine=labyrinth-test-$$
cleanup() {
    machinectl terminate "$machine" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A staged install under /opt/labyrinth: the very files `make install` makes.
make --no-print-directory install DESTDIR="$work/stage" PREFIX=/opt/labyrinth BUILD="$build" >/dev/null
stage=$work/stage
conf=$stage/etc/labyrinth/labyrinth.toml
# Small rooms, two workers, STATUS= every second; the lock stays required
# (LimitMEMLOCK= in the unit must make it work).
sed -i -e 's/^pages_per_room = .*/pages_per_room = 1024/' -e 's/^status_interval = .*/status_interval = 1/' \
    -e 's/^# count = 2/count = 2/' "$conf"
# The same with worker 1 stalling 2 s after start (the watchdog test).
sed -e 's/^budget = 64/budget = 64\ntest_stall_worker = 1\ntest_stall_after = 2/' "$conf" > "$stage/etc/labyrinth/stall.toml"

mkdir -p "$work/results" "$work/test"
cp scripts/systemd-test-inside.sh "$work/test/run.sh"
cat > "$work/test/labyrinth-test.service" <<'EOF'
[Unit]
Description=Labyrinth: the systemd test
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash /opt/labyrinth-test/run.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=600
EOF

runtime=()
for binary in "$build/labyrinthd" "$hooks/labyrinthd"; do
    if ldd "$binary" | grep -q libswiftCore; then
        swiftlib=$(dirname "$(ldd "$binary" | awk '/libswiftCore/ {print $3}')")
        [[ " ${runtime[*]} " == *" --bind-ro=$swiftlib "* ]] || runtime+=(--bind-ro="$swiftlib")
        echo "systemd-test: $binary links the Swift runtime dynamically; binding $swiftlib"
    fi
done

units=$stage/opt/labyrinth/lib/systemd/system
echo "systemd-test: booting systemd in a container (machine $machine)"
set +e
timeout 900 systemd-nspawn -D / --volatile=yes --register=no --keep-unit -M "$machine" \
    --capability=CAP_IPC_LOCK,CAP_NET_ADMIN \
    --bind="$stage/opt/labyrinth:/opt/labyrinth" \
    --bind="$stage/etc/labyrinth:/etc/labyrinth" \
    --bind-ro="$units/labyrinthd.service:/etc/systemd/system/labyrinthd.service" \
    --bind-ro="$units/labyrinthd.socket:/etc/systemd/system/labyrinthd.socket" \
    --bind-ro="$stage/opt/labyrinth/lib/sysusers.d/labyrinth.conf:/etc/sysusers.d/labyrinth.conf" \
    --bind-ro="$work/test:/opt/labyrinth-test" \
    --bind-ro="$(realpath "$hooks/labyrinthd"):/opt/labyrinth-hooks/labyrinthd" \
    --bind-ro="$work/test/labyrinth-test.service:/etc/systemd/system/labyrinth-test.service" \
    --bind="$work/results:/results" \
    "${runtime[@]}" \
    -b -- systemd.firstboot=off systemd.wants=labyrinth-test.service > "$work/console.log" 2>&1
status=$?
set -e

results=$work/results/results.txt
if [ ! -s "$results" ]; then
    echo "systemd-test: no results (nspawn exit $status); console:" >&2
    tail -50 "$work/console.log" >&2
    exit 1
fi
cat "$results"
cp "$work/console.log" "$work/results/console.log"
keep=${LABYRINTH_SYSTEMD_RESULTS:-/tmp/labyrinth-systemd-results}
rm -rf "$keep" && cp -r "$work/results" "$keep"
if grep -q '^FAIL' "$results" || ! grep -q '^DONE' "$results"; then
    echo "systemd-test: FAILED (the container's journal and command output are in $keep)" >&2
    exit 1
fi
echo "systemd-test: passed ($(grep -c '^PASS' "$results") checks)"

#!/bin/bash
# The Debian package under a real systemd: boots one in a container, as
# scripts/systemd-test.sh does, but on a throw-away overlay of the host's
# root file system (lower: /, upper: a tmpfs) so that dpkg may write /usr
# (nspawn refuses --volatile=overlay for /, and --volatile=yes keeps /usr
# read-only), runs scripts/package-test-inside.sh there as a service:
# apt install ./labyrinth_*.deb, the socket and the service started by the
# package, labyrinthctl as a member of group labyrinth, systemctl reload,
# apt purge leaving no unit, user, group or file behind. Reads the results
# back from a bound folder.
#
#   scripts/package-test.sh [DEB]      (default: the newest ./labyrinth_*_amd64.deb, from `make deb`)
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:-$(ls -t labyrinth_*_amd64.deb 2>/dev/null | head -1)}
[[ -n $deb && -f $deb ]] || { echo "package-test: no labyrinth_*_amd64.deb (run make deb)" >&2; exit 2; }
if dpkg-query -W -f='${Status}' labyrinth 2>/dev/null | grep -q 'install ok installed'; then
    echo "package-test: labyrinth is installed on the host; the test needs a host without it" >&2
    exit 2
fi

work=$(mktemp -d /tmp/labyrinth-package-XXXXXX)
machine=labyrinth-pkg-$$
root=$work/root
cleanup() {
    machinectl terminate "$machine" >/dev/null 2>&1 || true
    mountpoint -q "$root" && umount "$root"
    mountpoint -q "$work/fs" && umount "$work/fs"
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/fs" "$root"
mount -t tmpfs -o size=4G,mode=0755 labyrinth-package-test "$work/fs"
mkdir -p "$work/fs/upper" "$work/fs/work"
mount -t overlay labyrinth-package-test -o lowerdir=/,upperdir="$work/fs/upper",workdir="$work/fs/work" "$root"

mkdir -p "$work/results" "$work/test"
cp scripts/package-test-inside.sh "$work/test/run.sh"
cp "$deb" "$work/test/"
cat > "$work/test/labyrinth-package-test.service" <<'UNIT'
[Unit]
Description=Labyrinth: the package test
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash /opt/labyrinth-package-test/run.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=600
UNIT

echo "package-test: $(basename "$deb") in a container (machine $machine)"
set +e
timeout 900 systemd-nspawn -D "$root" --register=no --keep-unit -M "$machine" \
    --capability=CAP_IPC_LOCK,CAP_NET_ADMIN \
    --bind-ro="$work/test:/opt/labyrinth-package-test" \
    --bind-ro="$work/test/labyrinth-package-test.service:/etc/systemd/system/labyrinth-package-test.service" \
    --bind="$work/results:/results" \
    -b -- systemd.firstboot=off systemd.wants=labyrinth-package-test.service > "$work/console.log" 2>&1
status=$?
set -e

results=$work/results/results.txt
if [ ! -s "$results" ]; then
    echo "package-test: no results (nspawn exit $status); console:" >&2
    tail -50 "$work/console.log" >&2
    exit 1
fi
cat "$results"
cp "$work/console.log" "$work/results/console.log"
keep=${LABYRINTH_PACKAGE_RESULTS:-/tmp/labyrinth-package-results}
rm -rf "$keep" && cp -r "$work/results" "$keep"
if grep -q '^FAIL' "$results" || ! grep -q '^DONE' "$results"; then
    echo "package-test: FAILED (the container's journal and command output are in $keep)" >&2
    exit 1
fi
echo "package-test: passed ($(grep -c '^PASS' "$results") checks)"

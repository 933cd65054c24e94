#!/usr/bin/env bash
# The README's second command, and what CI runs: installs everything the
# tests use (scripts/install-deps.sh test: apt-get, and pip where `python3`
# is not Debian's), builds the tests and runs them all. The tests run as
# root (network namespaces, veth pairs, clients as other users): a user who
# is not root is asked for sudo, keeping the PATH that found swift.
#   scripts/test.sh                 everything
#   scripts/test.sh --filter Stop   arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test.sh: the tests run as root (network namespaces, other users); asking sudo"
    # Keep the PATH that found swift, and add root's sbin directories: the
    # tests run sysctl, softflowd and nfcapd, which Debian puts there.
    exec sudo env "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin" "$0" "$@"
fi
scripts/install-deps.sh test
# The tests' own Python, where the system's could not take scapy and dpkt.
if [[ -x .build/python/bin/python3 ]]; then export PATH="$PWD/.build/python/bin:$PATH"; fi
swift build --build-tests
exec swift test --skip-build "$@"

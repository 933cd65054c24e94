#!/usr/bin/env bash
# The README's first command: installs the two libraries the build links
# (libpcap, liburing; apt-get, through sudo when not root), builds in
# release mode, and replays the bundled loopback capture through the pinned
# workers, printing the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
exec swift run -c release labyrinthd replay captures/loopback.pcap "$@"

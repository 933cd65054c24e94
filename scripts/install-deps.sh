#!/usr/bin/env bash
# Installs what Labyrinth needs on Debian 12, only what is missing:
#   scripts/install-deps.sh build   the libraries the build links (libpcap, liburing)
#   scripts/install-deps.sh test    those, and every tool and Python module the tests use
# Run as root, or as a user who may sudo. `make demo` and `make check` call it.
set -euo pipefail
what=${1:-test}

build_debs=(libpcap-dev liburing-dev pkg-config)
# The oracles and peers the tests run: tcpdump, tshark/capinfos/editcap,
# tcpreplay, nfcapd (nfdump), softflowd, promtool (prometheus), FUSE for the
# slow-disk test, iproute2 for the namespaces, setpriv (util-linux), and
# scapy and dpkt for the generated captures.
test_debs=(tcpdump tshark wireshark-common tcpreplay iputils-ping iproute2 ethtool nfdump softflowd
    fuse3 python3-fusepy python3-pip python3-scapy python3-dpkt prometheus util-linux passwd procps mawk make)

debs=("${build_debs[@]}")
[[ $what == test ]] && debs+=("${test_debs[@]}")

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture: no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | as_root debconf-set-selections
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The tests run `python3` from PATH: where that is not Debian's (pyenv, a
# virtualenv), it needs scapy and dpkt of its own.
if [[ $what == test ]] && ! python3 -c 'import scapy, dpkt' 2>/dev/null; then
    echo "installing scapy and dpkt for $(command -v python3)"
    python3 -m pip install --quiet scapy dpkt
fi

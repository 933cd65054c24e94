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
    fuse3 python3-fusepy python3-pip python3-venv prometheus util-linux passwd procps mawk make)

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

# The tests run `python3` from PATH with scapy 2.6 or later (its pcapng
# reader names interfaces), dpkt, and prometheus_client (its OpenMetrics
# parser checks /metrics). Debian 12 ships scapy 2.5 and marks
# its Python externally managed: then the tests get a virtualenv of their
# own in .build/python (with the system's packages too, fusepy among them),
# which scripts/test.sh puts first on PATH.
python_ok() {
    "$1" - <<'PY' 2>/dev/null
import dpkt, scapy, prometheus_client.openmetrics.parser
v = tuple(int(x) for x in scapy.__version__.split(".")[:2])
raise SystemExit(0 if v >= (2, 6) else 1)
PY
}
if [[ $what == test ]] && ! python_ok python3 && ! { [[ -x .build/python/bin/python3 ]] && python_ok .build/python/bin/python3; }; then
    if python3 -m pip install --quiet 'scapy>=2.6' dpkt prometheus_client 2>/dev/null && python_ok python3; then
        echo "installed scapy, dpkt and prometheus_client for $(command -v python3)"
    else
        echo "installing scapy and dpkt in a virtualenv for the tests: .build/python"
        python3 -m venv --system-site-packages .build/python
        .build/python/bin/python3 -m pip install --quiet 'scapy>=2.6' dpkt prometheus_client
    fi
fi

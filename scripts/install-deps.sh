#!/usr/bin/env bash
# Installs what Labyrinth needs on Debian 12, only what is missing:
#   scripts/install-deps.sh build   the libraries the build links (libpcap, liburing)
#   scripts/install-deps.sh test    those, and every tool and Python module the tests use
# Run as root, or as a user who may sudo. `make demo` and `make check` call it.
set -euo pipefail
what=${1:-test}

build_debs=(libpcap-dev liburing-dev pkg-config)
# Everything the tests run, and the Python modules they import, are listed
# in scripts/test-tools.txt (program, source, package): `debian` lines are
# installed here with apt-get, `pypi` lines below with pip.
tools="$(dirname "$0")/test-tools.txt"
[[ -r $tools ]] || { echo "install-deps: cannot read $tools" >&2; exit 1; }
test_debs=()
pypi=()
while IFS=$'\t' read -r _ source package; do
    case $source in
    debian) [[ " ${test_debs[*]} " == *" $package "* ]] || test_debs+=("$package") ;;
    pypi) pypi+=("$package") ;;
    esac
done < <(grep -v '^#' "$tools")

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
    # Under systemd, Debian enables and starts the services of three of
    # them: prometheus on :9090, nfcapd on UDP 2055 (nfdump@default), and
    # softflowd (a no-op until configured). The tests start their own
    # instances and need none of them: stop and disable the ones installed
    # just now (never one that was there before).
    if [[ -d /run/systemd/system ]]; then
        units=()
        for p in "${missing[@]}"; do
            case $p in
            prometheus | nfdump | softflowd) units+=("$p.service") ;;
            esac
        done
        if ((${#units[@]})); then
            echo "stopping and disabling what Debian started: ${units[*]} (and their instances)"
            as_root systemctl disable --now --quiet "${units[@]}" || true
            # The instances (nfdump@default runs nfcapd) come from generators
            # under the disabled units; stop the running ones too.
            as_root systemctl stop 'nfdump@*.service' 'softflowd@*.service' || true
        fi
    fi
fi

# The tests run `python3` from PATH with scapy 2.6 or later (its pcapng
# reader names interfaces), dpkt, and prometheus_client (its OpenMetrics
# parser checks /metrics). Debian 12 ships scapy 2.5 and marks
# its Python externally managed: then the tests get a virtualenv of their
# own in .build/python (with the system's packages too, fusepy among them),
# which scripts/test.sh puts first on PATH.
python_ok() {
    "$1" - "${pypi[@]}" <<'PY' 2>/dev/null
import importlib, importlib.metadata, re, sys
for spec in sys.argv[1:]:
    name, _, least = re.match(r"([\w.-]+)(>=([\d.]+))?", spec).groups()
    importlib.import_module(name)
    if least:
        have = tuple(int(x) for x in re.findall(r"\d+", importlib.metadata.version(name))[:2])
        if have < tuple(int(x) for x in least.split(".")[:2]):
            raise SystemExit(1)
PY
}
if [[ $what == test ]] && ! python_ok python3 && ! { [[ -x .build/python/bin/python3 ]] && python_ok .build/python/bin/python3; }; then
    if python3 -m pip install --quiet "${pypi[@]}" 2>/dev/null && python_ok python3; then
        echo "installed ${pypi[*]} from PyPI for $(command -v python3)"
    else
        echo "installing ${pypi[*]} from PyPI in a virtualenv for the tests: .build/python"
        python3 -m venv --system-site-packages .build/python
        .build/python/bin/python3 -m pip install --quiet "${pypi[@]}"
    fi
fi

#!/bin/bash
# Runs inside the container started by scripts/package-test.sh, as a
# oneshot service. Each check prints PASS or FAIL to /results/results.txt;
# DONE marks the end. Powers the container off when finished.
set -u
out=/results/results.txt
: > "$out"
log=/results/commands.log
deb=$(ls /opt/labyrinth-package-test/*.deb | head -1)
sock=/run/labyrinth/labyrinthd.sock
export DEBIAN_FRONTEND=noninteractive
command -v awk >/dev/null || awk() { mawk "$@"; }

pass() { echo "PASS $*" >> "$out"; }
fail() { echo "FAIL $*" >> "$out"; }
check() { # check NAME COMMAND...: PASS when the command succeeds
    local name=$1; shift
    if "$@" >> "$log" 2>&1; then pass "$name"; else fail "$name (command: $*)"; fi
}
wait_for() { # wait_for SECONDS COMMAND...: polls with a deadline
    local until=$((SECONDS + $1)); shift
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $until ] && return 1
        sleep 0.2
    done
}
as() { local user=$1; shift; setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups "$@"; }
finish() {
    journalctl -b --no-pager -o short-monotonic > /results/journal.txt 2>&1
    echo DONE >> "$out"
    systemctl --no-block poweroff
}
trap finish EXIT

echo "in the container: $(systemctl --version | head -1); package $(basename "$deb")" >> "$out"

# A container image's policy-rc.d (Docker's "exit 101") forbids
# deb-systemd-invoke to start anything; a Debian system has none. It goes,
# in this throw-away overlay only.
if [ -e /usr/sbin/policy-rc.d ]; then
    rm -f /usr/sbin/policy-rc.d
    echo "removed the image's /usr/sbin/policy-rc.d (in the container's overlay)" >> "$out"
fi

# 1. apt install ./labyrinth_*.deb: the group, the units enabled and started.
if apt-get install -y -q --no-install-recommends "$deb" >> "$log" 2>&1; then
    pass "apt install ./$(basename "$deb")"
else
    fail "apt install ./$(basename "$deb") (see commands.log)"
    exit 0
fi
getent group labyrinth >/dev/null && pass "group labyrinth made by the sysusers entry" || fail "no group labyrinth"
for unit in labyrinthd.socket labyrinthd.service; do
    [ "$(systemctl is-enabled $unit 2>&1)" = enabled ] && pass "$unit enabled" || fail "$unit: $(systemctl is-enabled $unit 2>&1)"
    if wait_for 30 sh -c "[ \"\$(systemctl is-active $unit)\" = active ]"; then
        pass "$unit started by the package"
    else
        fail "$unit: $(systemctl is-active $unit) after install"
    fi
done
conffiles=$(dpkg-query -W -f='${Conffiles}' labyrinth)
grep -q '^ /etc/labyrinth/labyrinth.toml ' <<<"$conffiles" && pass "/etc/labyrinth/labyrinth.toml is a conffile" \
    || fail "conffiles: $conffiles"
missing=()
for f in /usr/bin/labyrinthd /usr/bin/labyrinthctl /lib/systemd/system/labyrinthd.service \
    /lib/systemd/system/labyrinthd.socket /usr/lib/sysusers.d/labyrinth.conf \
    /usr/share/man/man8/labyrinthd.8.gz /usr/share/man/man8/labyrinthctl.8.gz /usr/share/man/man5/labyrinth.toml.5.gz \
    /usr/share/bash-completion/completions/labyrinthctl /usr/share/zsh/vendor-completions/_labyrinthctl \
    /usr/share/fish/vendor_completions.d/labyrinthctl.fish /usr/share/labyrinth/loopback.pcap \
    /usr/share/doc/labyrinth/docs/architecture.md; do
    [ -e "$f" ] || missing+=("$f")
done
((${#missing[@]} == 0)) && pass "binaries, units, sysusers entry, man pages, completions, docs and capture in place" \
    || fail "missing: ${missing[*]}"
grep -q '^ExecStart=/usr/bin/labyrinthd run --config /etc/labyrinth/labyrinth.toml' /lib/systemd/system/labyrinthd.service \
    && pass "the unit runs /usr/bin/labyrinthd" || fail "the unit's ExecStart: $(grep ^ExecStart= /lib/systemd/system/labyrinthd.service)"
if v=$(systemd-analyze verify labyrinthd.service labyrinthd.socket 2>&1) && [ -z "$v" ]; then
    pass "systemd-analyze verify: clean"
else
    fail "systemd-analyze verify: $v"
fi

# 2. labyrinthctl as a member of group labyrinth, and as a stranger.
useradd -M -G labyrinth labyrinth-op 2>>"$log"; useradd -M labyrinth-stranger 2>>"$log"
check "labyrinthctl stats as a member of group labyrinth" as labyrinth-op labyrinthctl stats
check "labyrinthctl stats --json as a member of group labyrinth" as labyrinth-op labyrinthctl stats --json
as labyrinth-stranger labyrinthctl stats >> "$log" 2>&1
rc=$?
[ $rc = 77 ] && pass "a stranger is refused (exit 77)" || fail "a stranger got exit $rc"
expected=$(capinfos -c -M /usr/share/labyrinth/loopback.pcap | awk '/Number of packets/ {print $NF}')
got=$(labyrinthctl replay --json /usr/share/labyrinth/loopback.pcap | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
[ "$got" = "$expected" ] && pass "root replays the bundled capture: $got packets" || fail "replay counted $got, capinfos $expected"
compgen_out=$(bash -c 'source /usr/share/bash-completion/completions/labyrinthctl && COMP_WORDS=(labyrinthctl st) COMP_CWORD=1 && _labyrinthctl labyrinthctl st labyrinthctl 2>/dev/null; echo "${COMPREPLY[*]}"' 2>&1)
grep -qw stats <<<"$compgen_out" && pass "bash completes 'labyrinthctl st' with stats" || echo "bash completion: $compgen_out" >> "$out"

# 3. systemctl reload keeps the process and re-reads the file.
pid=$(systemctl show -p MainPID --value labyrinthd)
check "systemctl reload labyrinthd" systemctl reload labyrinthd
[ "$(systemctl show -p MainPID --value labyrinthd)" = "$pid" ] && pass "reload kept the process ($pid)" || fail "reload changed the main pid"
wait_for 10 sh -c "journalctl -u labyrinthd --no-pager | grep -q 'reloaded /etc/labyrinth/labyrinth.toml'" \
    && pass "reload logged" || fail "no reload line in the journal"
check "answers after the reload" as labyrinth-op labyrinthctl stats

# 4. apt purge leaves nothing behind.
[ -e /var/lib/private/labyrinth ] && echo "state directory before purge: $(ls -ld /var/lib/private/labyrinth)" >> "$out"
check "apt purge labyrinth" apt-get purge -y -q labyrinth
dpkg-query -W -f='${Status}' labyrinth 2>/dev/null | grep -q 'installed' && fail "still installed: $(dpkg-query -W -f='${Status}' labyrinth)"
left=()
for f in /usr/bin/labyrinthd /usr/bin/labyrinthctl /lib/systemd/system/labyrinthd.service /lib/systemd/system/labyrinthd.socket \
    /usr/lib/sysusers.d/labyrinth.conf /etc/labyrinth /var/lib/labyrinth /var/lib/private/labyrinth /run/labyrinth \
    /usr/share/doc/labyrinth /usr/share/labyrinth /usr/share/man/man8/labyrinthd.8.gz \
    /usr/share/bash-completion/completions/labyrinthd /var/lib/systemd/deb-systemd-helper-enabled/labyrinthd.service.dsh-also; do
    [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
while IFS= read -r f; do left+=("$f"); done < <(find /etc/systemd /lib/systemd /usr/lib/systemd /var/lib/systemd/deb-systemd-helper-enabled \
    -name 'labyrinthd*' 2>/dev/null)
((${#left[@]} == 0)) && pass "purge left no file (binaries, units, enablement links, config, state, docs)" || fail "purge left: ${left[*]}"
units=$(systemctl list-unit-files 'labyrinthd*' --no-legend 2>/dev/null)
[ -z "$units" ] && pass "no labyrinthd unit known to systemd" || fail "units left: $units"
getent group labyrinth >/dev/null && fail "group labyrinth left: $(getent group labyrinth)" || pass "group labyrinth removed"
getent passwd labyrinthd >/dev/null && fail "user labyrinthd left" || pass "no user labyrinthd"
pgrep -x labyrinthd >/dev/null && fail "labyrinthd still runs (pid $(pgrep -x labyrinthd))" || pass "no labyrinthd process"

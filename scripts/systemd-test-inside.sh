#!/bin/bash
# Runs inside the systemd container started by scripts/systemd-test.sh, as a
# oneshot service. Each check prints PASS or FAIL to /results/results.txt;
# DONE marks the end. Powers the container off when finished.
set -u
out=/results/results.txt
: > "$out"
bin=/opt/labyrinth/bin
sock=/run/labyrinth/labyrinthd.sock
capture=/opt/labyrinth/share/labyrinth/loopback.pcap
export PATH=$bin:$PATH
# Only /usr is the host's: /etc/alternatives is missing, so awk is mawk.
command -v awk >/dev/null || awk() { mawk "$@"; }

pass() { echo "PASS $*" >> "$out"; }
fail() { echo "FAIL $*" >> "$out"; }
check() { # check NAME COMMAND...: PASS when the command succeeds
    local name=$1; shift
    if "$@" >> /results/commands.log 2>&1; then pass "$name"; else fail "$name (command: $*)"; fi
}
prop() { systemctl show -p "$1" --value labyrinthd; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
wait_for() { # wait_for SECONDS COMMAND...
    local until=$((SECONDS + $1)); shift
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $until ] && return 1
        sleep 0.2
    done
}
finish() {
    journalctl -b --no-pager -o short-monotonic > /results/journal.txt 2>&1
    echo DONE >> "$out"
    systemctl --no-block poweroff
}
trap finish EXIT

echo "in the container: $(systemctl --version | head -1)" >> "$out"

# 0. The units pass systemd-analyze verify with their binaries in place.
if v=$(systemd-analyze verify /etc/systemd/system/labyrinthd.service /etc/systemd/system/labyrinthd.socket 2>&1) && [ -z "$v" ]; then
    pass "systemd-analyze verify: clean"
else
    fail "systemd-analyze verify: $v"
fi

# 1. systemctl start reaches active (running) through READY=1.
check "systemctl start labyrinthd" systemctl start labyrinthd
state="$(prop ActiveState)/$(prop SubState)"
[ "$state" = active/running ] && pass "active (running) after start" || fail "state after start: $state"
journalctl -u labyrinthd --no-pager | grep -q 'stats socket handed over by systemd' \
    && pass "the daemon took the socket from systemd (LISTEN_FDS)" || fail "no socket handover in the journal"
journalctl -u labyrinthd --no-pager | grep -q 'watchdog every' \
    && pass "the daemon saw WATCHDOG_USEC" || fail "no watchdog period in the journal"
pid=$(prop MainPID)
status=$(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' /proc/$pid/status | tr -s '\t ' ' ')
uid=$(awk '/^Uid/ {print $2}' /proc/$pid/status)
[ "$uid" != 0 ] && pass "runs as a dynamic user (uid $uid, $(id -nu "$uid" 2>/dev/null))" || fail "runs as root"
capeff=$(awk '/^CapEff/ {print $2}' /proc/$pid/status)
# CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_IPC_LOCK 14, CAP_SYS_NICE 23.
[ "$capeff" = 0000000000807000 ] && pass "capabilities: exactly NET_ADMIN NET_RAW IPC_LOCK SYS_NICE" || fail "CapEff $capeff ($status)"
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status && pass "NoNewPrivileges" || fail "NoNewPrivs not set"
grep -q 'locked: yes' <(journalctl -u labyrinthd --no-pager) && pass "arena locked under LimitMEMLOCK=infinity" || fail "arena not locked"

# 2. labyrinthctl answers through the socket-activated socket.
ls -l "$sock" >> /results/commands.log
getent group labyrinth >> /results/commands.log; stat -c '%a %g %G' "$sock" >> /results/commands.log
mode=$(stat -c '%a %G' "$sock")
[ "$mode" = "660 labyrinth" ] && pass "socket mode 0660 group labyrinth" || fail "socket is $mode"
check "labyrinthctl stats" labyrinthctl stats
check "labyrinthctl workers" labyrinthctl workers
check "labyrinthctl rooms" labyrinthctl rooms
check "labyrinthctl prometheus" labyrinthctl prometheus
check "systemd STATUS= has live rates" wait_for 5 sh -c "systemctl show -p StatusText --value labyrinthd | grep -q pps"
echo "StatusText: $(prop StatusText)" >> "$out"
# Socket activation proper: with the service stopped and the socket left
# listening, a client starts the daemon.
systemctl stop labyrinthd
[ "$(systemctl is-active labyrinthd.socket)" = active ] && pass "socket unit still listening with the service stopped" || fail "socket unit inactive"
# The daemon answers on the socket as soon as its stats server runs, a
# moment before it sends READY=1: the unit may still be "activating" when
# the answer comes, so its state is polled (with a deadline), not read once.
if labyrinthctl version >> /results/commands.log 2>&1 \
    && wait_for 10 sh -c '[ "$(systemctl show -p ActiveState --value labyrinthd)" = active ]'; then
    pass "a client on the socket started the service (socket activation)"
else
    fail "socket activation: $(prop ActiveState)"
fi
# The socket group lets an operator in; others are kept out.
useradd -M -G labyrinth operator 2>>/results/commands.log; useradd -M stranger 2>>/results/commands.log
check "a member of group labyrinth may ask" setpriv --reuid=$(id -u operator) --regid=$(id -g operator) --init-groups $bin/labyrinthctl version
setpriv --reuid=$(id -u stranger) --regid=$(id -g stranger) --init-groups $bin/labyrinthctl version >> /results/commands.log 2>&1
rc=$?
[ $rc = 77 ] && pass "a stranger is refused (exit 77)" || fail "a stranger got exit $rc"

# 3. A replay of a known file shows exact counts.
expected=$(capinfos -c -M "$capture" | awk '/Number of packets/ {print $NF}')
before=$(labyrinthctl stats --json | json 'd["packets"]')
job=$(labyrinthctl replay --json "$capture")
got=$(echo "$job" | json 'd["packets"]')
after=$(labyrinthctl stats --json | json 'd["packets"]')
if [ "$got" = "$expected" ] && [ $((after - before)) = "$expected" ]; then
    pass "replay of $(basename $capture): $got packets, as capinfos counts"
else
    fail "replay counted $got (stats +$((after - before))), capinfos says $expected"
fi
flows=$(labyrinthctl stats --json | json 'd["flows"]["total"]')
echo "flows after one replay: $flows" >> "$out"
journalctl -u labyrinthd --no-pager | grep -q 'replay socket handed over by systemd' \
    && pass "the daemon took the replay socket from systemd too" || fail "no replay socket handover in the journal"

# 3b. A capture in /tmp, which the service cannot see (PrivateTmp=yes): its
# descriptor crosses the boundary; its path does not.
cp "$capture" /tmp/labyrinth-private.pcap && chmod 0600 /tmp/labyrinth-private.pcap
got=$(labyrinthctl replay --json /tmp/labyrinth-private.pcap | json 'd["packets"]')
[ "$got" = "$expected" ] && pass "replay of a file in /tmp by descriptor: $got packets" || fail "replay from /tmp counted $got, expected $expected"
labyrinthctl replay --by-path /tmp/labyrinth-private.pcap >> /results/commands.log 2>&1
rc=$?
[ $rc = 1 ] && pass "the same file by path is refused (exit 1)" || fail "by path: exit $rc"
setpriv --reuid=$(id -u operator) --regid=$(id -g operator) --init-groups $bin/labyrinthctl replay "$capture" >> /results/commands.log 2>&1
rc=$?
[ $rc = 1 ] && pass "the socket group may not replay (exit 1)" || fail "an operator's replay: exit $rc"

# 4. systemctl reload keeps counters going, and loses nothing mid-replay.
pid=$(prop MainPID)
before=$(labyrinthctl stats --json | json 'd["packets"]')
job=$(labyrinthctl replay --no-wait --json --pps 1500 "$capture" | json 'd["job"]')
sleep 0.2
check "systemctl reload labyrinthd" systemctl reload labyrinthd
sleep 0.2
check "second reload" systemctl reload labyrinthd
[ "$(prop MainPID)" = "$pid" ] && pass "reload kept the process ($pid)" || fail "reload changed the main pid"
[ "$(prop ActiveState)" = active ] && pass "active after reload" || fail "state after reload: $(prop ActiveState)"
wait_for 30 sh -c "labyrinthctl raw '{\"command\":\"replay\",\"job\":$job}' | grep -q '\"done\"'"
after=$(labyrinthctl stats --json | json 'd["packets"]')
missed=$(labyrinthctl stats --json | json 'd["dropped"]["rx_missed"]')
if [ $((after - before)) = "$expected" ] && [ "$missed" = 0 ]; then
    pass "counters kept going through two reloads: +$((after - before)) packets, none missed"
else
    fail "across the reloads: +$((after - before)) packets (expected $expected), rx_missed $missed"
fi
journalctl -u labyrinthd --no-pager | grep -q 'reloaded /etc/labyrinth/labyrinth.toml' && pass "reload logged" || fail "no reload line"

# 5. systemctl stop exits cleanly with the leak check passed.
check "systemctl stop labyrinthd" systemctl stop labyrinthd
sleep 0.5
result="$(prop Result) $(prop ExecMainStatus)"
[ "$result" = "success 0" ] && pass "stopped: result success, exit 0" || fail "stop: $result"
journalctl -u labyrinthd --no-pager | grep -q 'leak check passed' && pass "leak check passed at stop" || fail "no leak check line"
journalctl -u labyrinthd --no-pager | grep -q 'final counters' && pass "final counters logged" || fail "no final counters"

# 6. A stalled worker gets the service restarted by the watchdog. The
# release build has no test hooks and refuses their keys; the stall comes
# from a debug build of the same sources (bound in by systemd-test.sh).
hooks=/opt/labyrinth-hooks/labyrinthd
out78=$($bin/labyrinthd check-config /etc/labyrinth/stall.toml 2>&1); code=$?
[ $code -eq 78 ] && grep -q 'test_stall_worker' <<<"$out78" && pass "the release build refuses the test hook keys (exit 78)" || fail "release build and test hooks: exit $code: $out78"
mkdir -p /run/systemd/system/labyrinthd.service.d
cat > /run/systemd/system/labyrinthd.service.d/stall.conf <<EOF
[Service]
ExecStartPre=
ExecStartPre=$hooks check-config /etc/labyrinth/stall.toml
ExecStart=
ExecStart=$hooks run --config /etc/labyrinth/stall.toml
WatchdogSec=3s
EOF
systemctl daemon-reload
systemctl reset-failed labyrinthd 2>/dev/null
check "start with worker 1 set to stall" systemctl start labyrinthd
first=$(prop MainPID)
if wait_for 40 sh -c "[ \$(systemctl show -p NRestarts --value labyrinthd) -ge 1 ]"; then
    pass "the watchdog restarted the service (NRestarts $(prop NRestarts), pid $first → $(prop MainPID))"
else
    fail "no restart within 40 s (NRestarts $(prop NRestarts), state $(prop ActiveState))"
fi
journalctl -u labyrinthd --no-pager | grep -q 'withholding WATCHDOG=1' && pass "the daemon withheld WATCHDOG=1 for the stalled worker" || fail "no withholding line"
journalctl -u labyrinthd --no-pager | grep -qi 'watchdog timeout' && pass "systemd logged the watchdog timeout" || fail "no watchdog timeout in the journal"
systemctl stop labyrinthd
rm -r /run/systemd/system/labyrinthd.service.d
systemctl daemon-reload
systemctl reset-failed labyrinthd 2>/dev/null
check "healthy again after the stall test" systemctl start labyrinthd
check "answers after the restart" labyrinthctl stats
check "final stop" systemctl stop labyrinthd

systemd-analyze security labyrinthd.service --no-pager 2>/dev/null | tail -1 | sed 's/^/security: /' >> "$out"

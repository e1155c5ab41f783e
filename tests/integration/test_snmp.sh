#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SNMP: FLOWPULSE-MIB lint; the AgentX subagent (src/snmp, driven by build/fp_snmp_selftest
# with a snapshot filled by a fixed formula) against a real snmpd started here as AgentX master
# on a private unix socket and a free UDP port on 127.0.0.1:
#   - the subagent runs while snmpd is absent, and registers once snmpd starts;
#   - snmpwalk of FLOWPULSE-MIB and IPFIX-MIB equals the formula (tests/integration/
#     snmp_expect.py), and names from conf/FLOWPULSE-MIB.txt + IPFIX-MIB resolve to the agent;
#   - the snapshot is refreshed about every refresh_ms, not more;
#   - snmpd killed and restarted: the subagent is back within 10 s;
#   - another enterprise number moves the subtree; collector up/down and drop-rate
#     notifications reach a trap sink.
# Never touches /var/lib/snmp or the system snmpd configuration.
. "$(dirname "$0")/lib.sh"
fp_lib_init snmp
fp_need snmpd snmpget snmpwalk "$FP_PY"
SELF=$FP_BUILD/fp_snmp_selftest
if [ ! -x "$SELF" ]; then
    fp_skip "$SELF not built"
    exit 0
fi
MIBDIR=${MIBDIRS:-$FP_ROOT/../shared/docs/mibs}
rc=0
ok() { fp_pass "$1"; }
ko() { fp_fail "$1"; rc=1; }

# --- 1. MIB lint ---------------------------------------------------------------------------
if MIBDIRS=$MIBDIR "$FP_ROOT/scripts/check-mib.sh" > "$FP_TMP/check-mib.log" 2>&1; then
    ok "smilint FLOWPULSE-MIB ($(grep -c . "$FP_TMP/check-mib.log") line(s))"
else
    cat "$FP_TMP/check-mib.log" >&2
    ko "smilint FLOWPULSE-MIB"
fi
# The lint must be able to fail: an unknown object in a group.
sed 's/fpPortNoMbuf }/fpPortNoMbuf, fpNoSuchObject }/' "$FP_ROOT/conf/FLOWPULSE-MIB.txt" \
    > "$FP_TMP/BROKEN-MIB.txt"
if MIBDIRS=$MIBDIR "$FP_ROOT/scripts/check-mib.sh" "$FP_TMP/BROKEN-MIB.txt" > /dev/null 2>&1; then
    ko "check-mib.sh accepted a broken MIB"
else
    ok "check-mib.sh rejects a broken MIB"
fi

# --- private snmpd -------------------------------------------------------------------------
mkdir -p "$FP_TMP/conf" "$FP_TMP/state" "$FP_TMP/toolconf"
export SNMP_PERSISTENT_DIR=$FP_TMP/state SNMPCONFPATH=$FP_TMP/toolconf MIBS=
PORT=$(fp_free_port udp)
TRAPPORT=$(fp_free_port udp)
SOCK=$FP_TMP/agentx.sock
AGENT=127.0.0.1:$PORT
cat > "$FP_TMP/conf/snmpd.conf" <<CONF
master agentx
agentXSocket unix:$SOCK
agentXPerms 0660 0770
rocommunity public 127.0.0.1
agentaddress udp:127.0.0.1:$PORT
trap2sink 127.0.0.1:$TRAPPORT public
CONF
SNMPD_PID=
SNMP=(-v2c -c public -t 0.3 -r 1)
# wait_oid OID TIMEOUT_S: until snmpget returns a value; prints the seconds it took.
wait_oid() {
    local t0=$SECONDS i
    for ((i = 0; i < $2 * 4; i++)); do
        if snmpget "${SNMP[@]}" -On "$AGENT" "$1" 2>/dev/null | grep -qv 'No Such'; then
            echo $((SECONDS - t0))
            return 0
        fi
        sleep 0.25
    done
    return 1
}
selftest_start() { # OUTNAME args...
    local name=$1
    shift
    "$SELF" --socket "$SOCK" --ping 1 --refresh-ms 1000 --pdir "$FP_TMP/state" "$@" \
        > "$FP_TMP/$name.out" 2> "$FP_TMP/$name.err" &
    SELF_PID=$!
    FP_PIDS+=("$SELF_PID")
}
selftest_stop() { # name: SIGTERM, must exit 0 within 5 s
    kill -TERM "$SELF_PID" 2>/dev/null
    fp_wait_pid "$SELF_PID" 5
    local st=$?
    fp_forget_pid "$SELF_PID"
    if [ $st -eq 0 ] && grep -q '^stopped' "$FP_TMP/$1.out"; then
        ok "$1: subagent stopped cleanly on SIGTERM"
    else
        ko "$1: subagent exit status $st on SIGTERM"
        tail -5 "$FP_TMP/$1.err" >&2
    fi
}

PEN=32473
R=.1.3.6.1.4.1.$PEN.1
VERSION_OID=$R.1.1.1.0

# --- 2. subagent first, snmpd absent --------------------------------------------------------
selftest_start runA --seed 7
sleep 2
if kill -0 "$SELF_PID" 2>/dev/null; then
    ok "subagent keeps running without snmpd"
else
    ko "subagent died without snmpd"
    cat "$FP_TMP/runA.err" >&2
fi
fp_snmpd_start "$PORT" || ko "snmpd did not start"
if s=$(wait_oid "$VERSION_OID" 10); then
    ok "subagent registered ${s}s after snmpd started"
else
    ko "subagent not registered 10 s after snmpd started"
fi

# --- 3. walk and compare with the formula --------------------------------------------------
START_MS=$(sed -n 's/^start_ms=//p' "$FP_TMP/runA.out")
WALK=(-On -Oe -Ot -Ox -Oq)
snmpwalk "${SNMP[@]}" "${WALK[@]}" "$AGENT" ".1.3.6.1.4.1.$PEN" > "$FP_TMP/walk-fp.txt" 2>&1
snmpwalk "${SNMP[@]}" "${WALK[@]}" "$AGENT" .1.3.6.1.2.1.193 > "$FP_TMP/walk-ipfix.txt" 2>&1
if "$FP_PY" "$FP_ROOT/tests/integration/snmp_expect.py" "$FP_ROOT" "$START_MS" "$PEN" 7 \
    "$FP_TMP/walk-fp.txt" "$FP_TMP/walk-ipfix.txt" > "$FP_TMP/expect.log" 2>&1; then
    ok "snmpwalk FLOWPULSE-MIB + IPFIX-MIB = snapshot ($(tail -1 "$FP_TMP/expect.log"))"
else
    head -30 "$FP_TMP/expect.log" >&2
    ko "snmpwalk values differ from the snapshot"
fi
# GETBULK walks the same objects.
if command -v snmpbulkwalk > /dev/null; then
    snmpbulkwalk "${SNMP[@]}" "${WALK[@]}" "$AGENT" .1.3.6.1.2.1.193 > "$FP_TMP/bulk-ipfix.txt" 2>&1
    a=$(cut -d' ' -f1 "$FP_TMP/walk-ipfix.txt" | grep -c '^\.')
    b=$(cut -d' ' -f1 "$FP_TMP/bulk-ipfix.txt" | grep -c '^\.')
    if [ "$a" -gt 100 ] && [ "$a" = "$b" ]; then ok "snmpbulkwalk IPFIX-MIB: $b objects"
    else ko "snmpbulkwalk IPFIX-MIB: $b objects, snmpwalk $a"; fi
fi
# By name, through the MIB texts.
MIBS_ARG=(-M "$FP_ROOT/conf:$MIBDIR" -m FLOWPULSE-MIB:IPFIX-MIB)
v=$(snmpget "${SNMP[@]}" "${MIBS_ARG[@]}" -Oqv "$AGENT" FLOWPULSE-MIB::fpCollectorUrl.2 \
    IPFIX-MIB::ipfixTransportSessionStatus.1 IPFIX-MIB::ipfixTemplateSetId.2.42.257 2>&1 | tr '\n' ' ')
if [ "$v" = '"tcp://[::1]:4740" active 3 ' ] || [ "$v" = 'tcp://[::1]:4740 active 3 ' ]; then
    ok "MIB names resolve: $v"
else
    ko "snmpget by MIB names gave: $v"
fi
n_named=$(snmpwalk "${SNMP[@]}" "${MIBS_ARG[@]}" "$AGENT" FLOWPULSE-MIB::flowpulseMIB 2>&1 |
    grep -c '^FLOWPULSE-MIB::fp')
n_num=$(grep -c '^\.' "$FP_TMP/walk-fp.txt")
if [ "$n_named" = "$n_num" ]; then ok "every walked object has a FLOWPULSE-MIB name ($n_named)"
else ko "named walk: $n_named FLOWPULSE-MIB objects, numeric walk $n_num"; fi
# A non-existent instance is noSuchInstance.
if snmpget "${SNMP[@]}" -On "$AGENT" "$R.1.5.1.2.99" 2>&1 | grep -q 'No Such Instance'; then
    ok "unknown row: noSuchInstance"
else
    ko "unknown row did not give noSuchInstance"
fi

# --- 4. refresh period: packets metered = 123456 + fills, one fill per refresh_ms -------------
m1=$(snmpget "${SNMP[@]}" -Oqv "$AGENT" "$R.1.1.5.0")
sleep 2.5
m2=$(snmpget "${SNMP[@]}" -Oqv "$AGENT" "$R.1.1.5.0")
d=$((m2 - m1))
if [ "$d" -ge 1 ] && [ "$d" -le 4 ]; then ok "snapshot refreshed $d times in 2.5 s (refresh 1000 ms)"
else ko "snapshot refreshed $d times in 2.5 s (expected 1..4)"; fi

# --- 5. snmpd restart ------------------------------------------------------------------------
fp_snmpd_stop
sleep 1
if kill -0 "$SELF_PID" 2>/dev/null; then ok "subagent survives snmpd exit"
else ko "subagent died when snmpd exited"; fi
fp_snmpd_start "$PORT" || ko "snmpd did not restart"
if s=$(wait_oid "$VERSION_OID" 10); then
    ok "subagent back ${s}s after snmpd restart"
else
    ko "subagent not back 10 s after snmpd restart"
fi
selftest_stop runA

# --- 6. other enterprise number; notifications -----------------------------------------------
"$FP_PY" - "$TRAPPORT" "$FP_TMP/traps.hex" > /dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    while True:
        d = s.recv(65535)
        f.write(d.hex() + "\n")
        f.flush()
PY
TRAP_PID=$!
FP_PIDS+=("$TRAP_PID")
fp_wait_listen udp "$TRAPPORT"
PEN2=64000
selftest_start runB --seed 3 --pen $PEN2 --flap 2 --drops 500 --threshold 100
if s=$(wait_oid ".1.3.6.1.4.1.$PEN2.1.1.1.1.0" 10); then
    ok "registered under enterprises.$PEN2 (${s}s)"
else
    ko "nothing under enterprises.$PEN2"
fi
if snmpwalk "${SNMP[@]}" -On "$AGENT" ".1.3.6.1.4.1.$PEN" 2>&1 | grep -q "^.1.3.6.1.4.1.$PEN\."; then
    ko "enterprises.$PEN still served with --pen $PEN2"
else
    ok "enterprises.$PEN not served with --pen $PEN2"
fi
thr=$(snmpget "${SNMP[@]}" -Oqv "$AGENT" ".1.3.6.1.4.1.$PEN2.1.1.1.8.0")
[ "$thr" = 100 ] && ok "fpDropThreshold = 100" || ko "fpDropThreshold = $thr"
sleep 6 # flap every 2 fills (1 s each): several down/up transitions; drops 500/s > 100
rate=$(snmpget "${SNMP[@]}" -Oqv "$AGENT" ".1.3.6.1.4.1.$PEN2.1.1.1.7.0")
if [ "${rate:-0}" -ge 300 ] && [ "${rate:-0}" -le 700 ]; then ok "fpDropRate $rate/s (500/s filled)"
else ko "fpDropRate $rate/s, expected about 500"; fi
selftest_stop runB
sleep 0.5
oid_hex() { # BER content octets of an OID, hex
    "$FP_PY" -c '
import sys
p = [int(x) for x in sys.argv[1].strip(".").split(".")]
out = [40 * p[0] + p[1]]
for v in p[2:]:
    b = [v & 127]
    v >>= 7
    while v:
        b.insert(0, 128 | (v & 127))
        v >>= 7
    out += b
print(bytes(out).hex())' "$1"
}
for n in 1:fpCollectorDown 2:fpCollectorUp 3:fpDropsAboveThreshold; do
    h=$(oid_hex ".1.3.6.1.4.1.$PEN2.1.0.${n%%:*}")
    c=$(grep -c "06$(printf '%02x' $((${#h} / 2)))$h" "$FP_TMP/traps.hex" 2>/dev/null)
    if [ "${c:-0}" -ge 1 ]; then ok "${n#*:} notification received ($c)"
    else ko "${n#*:} notification not received"; fi
done
# once per crossing: the drop rate stays above the threshold, so exactly one drop notification
h=$(oid_hex ".1.3.6.1.4.1.$PEN2.1.0.3")
c=$(grep -c "06$(printf '%02x' $((${#h} / 2)))$h" "$FP_TMP/traps.hex" 2>/dev/null)
[ "${c:-0}" = 1 ] && ok "fpDropsAboveThreshold sent once" || ko "fpDropsAboveThreshold sent $c times"

fp_snmpd_stop
if ls /var/lib/snmp/cert_indexes > /dev/null 2>&1 && [ /var/lib/snmp/cert_indexes -nt "$FP_TMP/conf/snmpd.conf" ]; then
    ko "something wrote /var/lib/snmp during the test"
fi
exit $rc

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Failover between two IPFIX-over-TLS collectors (socat OPENSSL-LISTEN, client certificate
# required → file → ipfixDump), export.mode = "failover", while a generated capture plays at
# its own pace (capture.pace, about FP_FAILOVER_SECONDS s, default 14):
#   - the primary collector is killed (SIGKILL) mid-export: records continue on the standby;
#   - the primary comes back on the same port: later records go to it again (switch-back),
#     and from its first record on the standby receives no later one;
#   - the union of what the three collector processes received equals the ground truth
#     (tests/tools/truth.py) with every record present; duplicates (records of messages the
#     primary had not acknowledged at the TCP level, re-sent to the standby) are counted and
#     must stay within the documented bound (4096 = records in flight per session).
. "$(dirname "$0")/lib.sh"
fp_lib_init failover
fp_need socat ipfixDump openssl
fp_need_flowpulse

SECS=${FP_FAILOVER_SECONDS:-14}
BOUND=4096
CERTS=$FP_TMP/certs
"$FP_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null || { fp_fail "make-certs.sh failed"; exit 1; }
CAP=$FP_TMP/paced.pcap
# ~10180 packets of ~930 conversations spread over SECS seconds of capture time
fp_gen_mix "$CAP" --flows 2000 --pps $((10180 / SECS)) || { fp_fail "fpgen failed"; exit 1; }
fp_truth "$CAP" "$FP_TMP/truth" || { fp_fail "truth.py failed"; exit 1; }
RECS=$FP_ROOT/tests/integration/ipfix_records.py
FLOW_OPTS=(-o flow.idle_timeout=1 -o control.socket=)
TLS_OPTS=(-o "export.tls_cert=$CERTS/exporter.pem" -o "export.tls_key=$CERTS/exporter.key"
          -o "export.tls_ca=$CERTS/ca.pem" -o export.retry_min=0.2 -o export.retry_max=0.5
          -o export.drain_timeout=5)
problems=()

# Reference order of the records: the same capture, unpaced, into a file (the flow cache
# runs on the packet clock, so the pace does not change which records are made, or their order).
fp_flowpulse_run "$CAP" "$FP_TMP/ref.log" -e "file:$FP_TMP/ref.ipfix" "${FLOW_OPTS[@]}" ||
    { fp_fail "reference run failed: $(tail -1 "$FP_TMP/ref.log")"; exit 1; }
ipfixDump --in "$FP_TMP/ref.ipfix" --out "$FP_TMP/ref.dump" 2>/dev/null



PPORT=$(fp_free_port tcp)
SPORT=$(fp_free_port tcp)
fp_tls_collector primary "$PPORT"
P1_PID=$COLL_PID
fp_tls_collector standby "$SPORT"
S_PID=$COLL_PID

timeout -k 5 $((SECS + 40)) "$FP_BUILD/flowpulse" -r "$CAP" -o capture.progress=false \
    -o capture.pace=1 -o export.mode=failover "${FLOW_OPTS[@]}" "${TLS_OPTS[@]}" \
    -e "tls://localhost:$PPORT" -e "tls://localhost:$SPORT" > "$FP_TMP/run.log" 2>&1 &
FP_PID=$!
FP_PIDS+=("$FP_PID")


# Primary killed mid-export (once it holds 20 flow records), back at about three quarters.
t0=$SECONDS
while [ $((SECONDS - t0)) -lt $((SECS / 2)) ] && [ "$(fp_flow_records "$FP_TMP/primary.ipfix")" -lt 20 ]; do
    sleep 0.2
done
n=$(fp_flow_records "$FP_TMP/primary.ipfix")
[ "$n" -ge 20 ] || problems+=("the primary received only $n flow records in $((SECS / 2)) s")
kill -KILL "$P1_PID" 2>/dev/null
wait "$P1_PID" 2>/dev/null
fp_forget_pid "$P1_PID"
fp_log "primary killed at ~$((SECONDS - t0)) s, after $n flow records"
left=$((SECS * 3 / 4 - (SECONDS - t0)))
[ "$left" -le 0 ] || sleep "$left"
fp_tls_collector primary-again "$PPORT"
P2_PID=$COLL_PID
fp_log "primary back at ~$((SECONDS - t0)) s"

fp_wait_pid "$FP_PID" $((SECS + 45))
rc=$?
fp_forget_pid "$FP_PID"
[ $rc -eq 0 ] || problems+=("flowpulse exited with status $rc")
fp_wait_pid "$S_PID" 10
fp_forget_pid "$S_PID"
fp_wait_pid "$P2_PID" 10
fp_forget_pid "$P2_PID"
grep "export:\|collector [01]:" "$FP_TMP/run.log" | sed 's/^/  /' >&2

for c in primary standby primary-again; do
    touch "$FP_TMP/$c.ipfix" "$FP_TMP/$c.dump"
    ipfixDump --in "$FP_TMP/$c.ipfix" --out "$FP_TMP/$c.dump" 2> "$FP_TMP/$c.ipfixdump.log"
done
grep -q "collector 0: .* 0 records not sent" "$FP_TMP/run.log" ||
    problems+=("collector 0 (primary) counted records not sent")
grep -q "collector 1: .* 0 records not sent" "$FP_TMP/run.log" ||
    problems+=("collector 1 (standby) counted records not sent")
grep -q "tls://localhost:$PPORT: .*\(peer_reset\|peer_closed\|connect\)" "$FP_TMP/run.log" ||
    problems+=("no failure of the primary in the log")

out=$("$FP_PY" "$RECS" union --bound "$BOUND" --out "$FP_TMP/union.got" \
    "$FP_TMP/primary.dump" "$FP_TMP/standby.dump" "$FP_TMP/primary-again.dump")
urc=$?
echo "$out" | grep -v '^duplicates' >&2
dups=$(echo "$out" | awk '/^duplicates/ { print $2 }')
[ $urc -eq 0 ] || problems+=("duplicates ($dups) above the bound $BOUND")
fp_compare "$FP_TMP/truth" "$FP_TMP/union.got" "failover union" >&2 ||
    problems+=("union of the collectors' records differs from the truth")
"$FP_PY" "$RECS" switchback "$FP_TMP/ref.dump" "$FP_TMP/primary.dump" "$FP_TMP/standby.dump" \
    "$FP_TMP/primary-again.dump" >&2 || problems+=("switch-back check failed")

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "primary killed, standby took over, primary back and used again; union = truth, $dups duplicate(s) (bound $BOUND)"

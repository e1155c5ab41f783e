#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# IPFIX over DTLS 1.2 with mutual authentication into a real DTLS server: socat
# OPENSSL-DTLS-SERVER (client certificate required, verify=1) writing every datagram (one
# IPFIX message each) to a file that ipfixDump reads. On loopback nothing may be lost, so
# the records must equal the ground truth of tests/tools/truth.py exactly. tshark sees DTLS
# on the port and no cleartext IPFIX (decoded as cflow: nothing).
# Then refusals, each with the cause in flowpulse's log, no IPFIX at the collector, no
# cleartext on the wire, and every record counted as not sent: collector certificate from
# another CA, expired, with the wrong name, not in the CN allow-list (export.tls_peer_cn),
# and an exporter certificate the collector does not trust.
. "$(dirname "$0")/lib.sh"
fp_lib_init dtls
fp_need socat ipfixDump openssl tshark
fp_need_flowpulse
if ! socat -h 2>/dev/null | grep -qi "openssl-dtls-server"; then
    fp_skip "socat has no OPENSSL-DTLS-SERVER"
    exit 0
fi

CERTS=$FP_TMP/certs
"$FP_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null || { fp_fail "make-certs.sh failed"; exit 1; }
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
fp_truth "$MIX" "$FP_TMP/mix.truth" || { fp_fail "truth.py failed"; exit 1; }
TLS_OPTS=(-o "export.tls_cert=$CERTS/exporter.pem" -o "export.tls_key=$CERTS/exporter.key"
          -o "export.tls_ca=$CERTS/ca.pem" -o export.retry_min=0.2 -o export.retry_max=0.5
          -o export.drain_timeout=1 -o control.socket=)
problems=()

# One port per case, one tshark capture of all of them.
CASES=(ok other-ca expired wrong-name cn-not-allowed wrong-client)
declare -A PORTS
filter=
for c in "${CASES[@]}"; do
    PORTS[$c]=$(fp_free_port udp)
    filter+="${filter:+ or }udp port ${PORTS[$c]}"
done
TSHARK_FILE=$FP_TMP/dtls.pcapng
tshark -q -i lo -f "$filter" -w "$TSHARK_FILE" > "$FP_TMP/tshark.log" 2>&1 &
TSHARK_PID=$!
FP_PIDS+=("$TSHARK_PID")
for ((i = 0; i < 200; i++)); do
    grep -q "Capturing on" "$FP_TMP/tshark.log" 2>/dev/null && break
    sleep 0.05
done

# dtls_collector NAME CERT [fork]: socat DTLS server on PORTS[NAME] → NAME.ipfix; sets
# PORT, SOCAT_PID.
dtls_collector() {
    local name=$1 cert=$2 fork=${3:+,fork}
    PORT=${PORTS[$name]}
    socat -u "OPENSSL-DTLS-SERVER:$PORT,bind=127.0.0.1,cert=$CERTS/$cert.pem,key=$CERTS/$cert.key,cafile=$CERTS/ca.pem,verify=1$fork" \
        "OPEN:$FP_TMP/$name.ipfix,creat,trunc" 2> "$FP_TMP/$name.socat.log" &
    SOCAT_PID=$!
    FP_PIDS+=("$SOCAT_PID")
    fp_wait_listen udp "$PORT"
}

# 1. Mutual authentication: records equal the truth exactly.
dtls_collector ok collector
fp_flowpulse_run "$MIX" "$FP_TMP/ok.log" -e "dtls://localhost:$PORT" "${TLS_OPTS[@]}" ||
    problems+=("flowpulse exited $? (ok case)")
fp_wait_pid "$SOCAT_PID" 10
fp_forget_pid "$SOCAT_PID"
grep "export:\|collector 0:" "$FP_TMP/ok.log" | sed 's/^/  /' >&2
grep -q "DTLS session established (DTLSv1.2" "$FP_TMP/ok.log" || problems+=("no DTLS 1.2 session in the log")
grep -q "collector 0: .* 0 records not sent" "$FP_TMP/ok.log" || problems+=("ok case: records not sent")
ipfixDump --in "$FP_TMP/ok.ipfix" --out "$FP_TMP/ok.dump" 2> "$FP_TMP/ok.ipfixdump.log"
"$FP_PY" "$FP_COMPARE" --normalize ipfixdump < "$FP_TMP/ok.dump" > "$FP_TMP/ok.got"
fp_compare "$FP_TMP/mix.truth" "$FP_TMP/ok.got" "DTLS ipfixDump" >&2 ||
    problems+=("records over DTLS differ from the truth")
sent=$(sed -n 's/.*collector 0: \([0-9]*\) records.*/\1/p' "$FP_TMP/ok.log")
got=$("$FP_PY" "$FP_ROOT/tests/integration/ipfix_records.py" union "$FP_TMP/ok.dump" | awk 'NR == 1 { print $2 }')
[ -n "$sent" ] && [ "$sent" = "$got" ] ||
    problems+=("flowpulse sent ${sent:-?} flow records, the collector got ${got:-?}")

# 2. Refusals: CASE SERVER_CERT EXPORTER_CERT EXPECTED_LOG_TEXT [extra flowpulse args]
FORK=fork
refuse() {
    local case=$1 scert=$2 ecert=$3 text=$4
    shift 4
    local opts=("${TLS_OPTS[@]}" -o "export.tls_cert=$CERTS/$ecert.pem"
                -o "export.tls_key=$CERTS/$ecert.key" "$@")
    # fork: every retry meets the same refusal (a failed handshake ends a socat child)
    dtls_collector "$case" "$scert" "$FORK"
    fp_flowpulse_run "$MIX" "$FP_TMP/$case.log" -e "dtls://localhost:$PORT" "${opts[@]}"
    pkill -P "$SOCAT_PID" 2>/dev/null # its children (by parent PID), then itself
    kill "$SOCAT_PID" 2>/dev/null
    fp_wait_pid "$SOCAT_PID" 5
    fp_forget_pid "$SOCAT_PID"
    grep -q "$text" "$FP_TMP/$case.log" ||
        problems+=("$case: log lacks \"$text\": $(grep -m1 'export: collector' "$FP_TMP/$case.log")")
    grep -m1 'export: collector' "$FP_TMP/$case.log" | sed 's/^/  /' >&2
    grep -q "collector 0: 0 records, .* [1-9][0-9]* records not sent" "$FP_TMP/$case.log" ||
        problems+=("$case: records not counted as not sent")
    [ ! -s "$FP_TMP/$case.ipfix" ] || problems+=("$case: the collector received IPFIX")
}
refuse other-ca other-collector exporter "unable to get local issuer certificate"
refuse expired expired exporter "certificate has expired"
refuse wrong-name wrongname exporter "hostname mismatch"
# (the collector's side of this handshake succeeds: no fork, or its child would wait forever)
FORK= refuse cn-not-allowed collector exporter "CN \"collector.test\" is not in the allowed list" \
    -o "export.tls_peer_cn=collector-b.test"
refuse wrong-client collector other-exporter "alert unknown ca"

# 3. The wire: DTLS in every case, never cleartext IPFIX (decoded as cflow: nothing; no UDP
# payload starts like an IPFIX message header).
sleep 0.3
kill -INT "$TSHARK_PID" 2>/dev/null
fp_wait_pid "$TSHARK_PID" 10
fp_forget_pid "$TSHARK_PID"
as_cflow=() as_dtls=()
for c in "${CASES[@]}"; do
    as_cflow+=(-d "udp.port==${PORTS[$c]},cflow")
    as_dtls+=(-d "udp.port==${PORTS[$c]},dtls")
done
clear=$(tshark -r "$TSHARK_FILE" "${as_cflow[@]}" -Y cflow -T fields -e udp.dstport 2>/dev/null | sort | uniq -c)
[ -z "$clear" ] || problems+=("tshark decoded IPFIX in clear (count port): $(echo $clear)")
if tshark -r "$TSHARK_FILE" -Y udp -T fields -e udp.payload 2>/dev/null |
    grep -Eq '^000a....[0-9a-f]{8}[0-9a-f]{8}0000000[01]'; then
    problems+=("a UDP payload starts with an IPFIX message header")
fi
dtls=$(tshark -r "$TSHARK_FILE" "${as_dtls[@]}" -Y dtls -T fields -e udp.dstport -e udp.srcport 2>/dev/null)
for c in "${CASES[@]}"; do
    grep -qw "${PORTS[$c]}" <<< "$dtls" || problems+=("$c: tshark saw no DTLS on port ${PORTS[$c]}")
done
DTLS_FRAMES=$(awk -v p="${PORTS[ok]}" '$1 == p' <<< "$dtls" | wc -l)
fp_log "ok: $got flow records in $DTLS_FRAMES DTLS datagrams to the collector"

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "DTLS 1.2 records equal truth ($got records, no cleartext); 5 refusals with the cause logged"

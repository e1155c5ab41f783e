#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# IPFIX over TLS with mutual authentication into socat OPENSSL-LISTEN (cafile, verify=1) →
# ipfixDump: the records equal the ground truth of tests/tools/truth.py. Then collectors
# with a bad certificate (other CA, expired, not yet valid, wrong name) and an exporter
# certificate from another CA: the session is refused, flowpulse's log names the cause, the
# collector receives no byte of IPFIX, and a tshark capture of the port shows no cleartext
# IPFIX (decoded as cflow: nothing; no raw IPFIX header in any TCP payload).
. "$(dirname "$0")/lib.sh"
fp_lib_init tls
fp_need socat ipfixDump openssl
fp_need_flowpulse

CERTS=$FP_TMP/certs
"$FP_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null || { fp_fail "make-certs.sh failed"; exit 1; }
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
fp_truth "$MIX" "$FP_TMP/mix.truth" || { fp_fail "truth.py failed"; exit 1; }
TLS_OPTS=(-o "export.tls_cert=$CERTS/exporter.pem" -o "export.tls_key=$CERTS/exporter.key"
          -o "export.tls_ca=$CERTS/ca.pem" -o export.retry_min=0.2 -o export.retry_max=0.5
          -o export.drain_timeout=1)
problems=()

# tls_collector NAME CERT: socat TLS server (client certificate required) → file; sets PORT.
tls_collector() {
    local name=$1 cert=$2
    PORT=$(fp_free_port tcp)
    socat -u "OPENSSL-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,cert=$CERTS/$cert.pem,key=$CERTS/$cert.key,cafile=$CERTS/ca.pem,verify=1" \
        "OPEN:$FP_TMP/$name.ipfix,creat,trunc" 2> "$FP_TMP/$name.socat.log" &
    SOCAT_PID=$!
    FP_PIDS+=("$SOCAT_PID")
    fp_wait_listen tcp "$PORT"
}

# 1. Mutual authentication OK: records equal the truth; the wire has no cleartext IPFIX.
tls_collector ok collector
fp_tshark_start tcp "$PORT" || problems+=("tshark did not start")
fp_flowpulse_run "$MIX" "$FP_TMP/ok.log" -e "tls://localhost:$PORT" "${TLS_OPTS[@]}" ||
    problems+=("flowpulse exited $? (ok case)")
fp_wait_pid "$SOCAT_PID" 10
fp_forget_pid "$SOCAT_PID"
grep -q "TLS session established" "$FP_TMP/ok.log" || problems+=("no TLS session in the log")
ipfixDump --in "$FP_TMP/ok.ipfix" --out "$FP_TMP/ok.dump" 2> "$FP_TMP/ok.ipfixdump.log"
"$FP_PY" "$FP_COMPARE" --normalize ipfixdump < "$FP_TMP/ok.dump" > "$FP_TMP/ok.got"
fp_compare "$FP_TMP/mix.truth" "$FP_TMP/ok.got" "TLS ipfixDump" >&2 ||
    problems+=("records over TLS differ from the truth")

# no_cleartext PCAP PORT: tshark decodes no IPFIX, no TCP payload starts like an IPFIX header
no_cleartext() {
    local f=$1 port=$2 n
    n=$(tshark -r "$f" -d "tcp.port==$port,cflow" -Y cflow 2>/dev/null | wc -l)
    [ "$n" -eq 0 ] || { echo "tshark decoded $n IPFIX frame(s) in clear"; return 1; }
    if tshark -r "$f" -Y "tcp.len > 0" -T fields -e tcp.payload 2>/dev/null |
        grep -Eq '^000a....[0-9a-f]{8}[0-9a-f]{8}0000000[01]'; then
        echo "a TCP payload starts with an IPFIX message header"
        return 1
    fi
}
sleep 0.3
kill -INT "$TSHARK_PID" 2>/dev/null
fp_wait_pid "$TSHARK_PID" 10
fp_forget_pid "$TSHARK_PID"
out=$(no_cleartext "$TSHARK_FILE" "$PORT") || problems+=("ok case: $out")
[ "$(tshark -r "$TSHARK_FILE" -Y tls 2>/dev/null | wc -l)" -gt 0 ] || problems+=("no TLS seen by tshark")

# 2. Refusals: CASE SERVER_CERT EXPORTER_CERT EXPECTED_LOG_TEXT
refuse() {
    local case=$1 scert=$2 ecert=$3 text=$4 opts=("${TLS_OPTS[@]}")
    tls_collector "$case" "$scert"
    fp_tshark_start tcp "$PORT" || { problems+=("$case: tshark did not start"); return; }
    opts+=(-o "export.tls_cert=$CERTS/$ecert.pem" -o "export.tls_key=$CERTS/$ecert.key")
    fp_flowpulse_run "$MIX" "$FP_TMP/$case.log" -e "tls://localhost:$PORT" "${opts[@]}"
    sleep 0.3
    kill -INT "$TSHARK_PID" 2>/dev/null
    fp_wait_pid "$TSHARK_PID" 10
    fp_forget_pid "$TSHARK_PID"
    kill "$SOCAT_PID" 2>/dev/null
    fp_wait_pid "$SOCAT_PID" 5
    fp_forget_pid "$SOCAT_PID"
    grep -q "$text" "$FP_TMP/$case.log" ||
        problems+=("$case: log lacks \"$text\": $(grep -m1 'export: collector' "$FP_TMP/$case.log")")
    grep -q "TLS session established" "$FP_TMP/$case.log" && [ "$case" != wrong-client ] &&
        problems+=("$case: a session was established")
    [ ! -s "$FP_TMP/$case.ipfix" ] || problems+=("$case: the collector received IPFIX")
    local out
    out=$(no_cleartext "$TSHARK_FILE" "$PORT") || problems+=("$case: $out")
}
refuse other-ca other-collector exporter "unable to get local issuer certificate"
refuse expired expired exporter "certificate has expired"
refuse notyet notyet exporter "certificate is not yet valid"
refuse wrong-name wrongname exporter "hostname mismatch"
refuse wrong-client collector other-exporter "alert unknown ca\|Connection reset\|Broken pipe\|closed by the collector"

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "TLS records equal truth; 5 bad-certificate cases refused with no cleartext"

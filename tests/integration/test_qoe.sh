#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# QoE metrics end to end: capture -> flowpulse (QoE on by default) -> IPFIX -> collector,
# compared with truth computed independently of FlowPulse.
#  1. tests/tools/qoegen.py writes TCP, DNS and RTP captures with exact timestamps and a
#     JSON truth next to each (delays, think time, RTT, retransmissions, reordering, zero
#     windows, outcomes, TLS and DNS timing, RFC 3550 jitter computed in floating point,
#     loss, reordering, E-model MOS, SPLT). `flowpulse -r CAP -e file:F -e udp://...`;
#     F is decoded by `ipfixDump --rfc5610` (no element file) and compared per flow and
#     direction by qoe_check.py; nfacctd, configured only with the generated
#     aggregate_primitives kit, receives the same run over UDP and a dozen QoE columns
#     are compared too.
#  2. Every capture of ../shared/pcaps (skipped when absent): every TCP connection with a
#     clean handshake (decoded independently by truth.py's decoder with our own timestamp
#     reader) has SND and CND > 0 and within 1 % or 10 us of the capture's timestamps.
#  3. Conferencing captures: RTP streams found by tshark (`-o rtp.heuristic_rtp:TRUE -z
#     rtp,streams`) with >= 3 packets get jitter, loss and MOS; loss equals tshark's and
#     the expected count equals tshark's packets + lost - 1 (FlowPulse's base is the second
#     packet, RFC 3550 A.1 probation); jitter and max jitter within 1 % of an independent
#     A.8 computation on tshark's per-packet fields, with the RFC 3551 clock for static
#     payload types and, for dynamic ones, the clock inferred and the start point chosen by
#     the rule of src/qoe/README.md §3 (tshark has no option to be told a dynamic clock);
#     that computation started at the first packet equals tshark's max jitter wherever
#     tshark knows the clock (static types, SDP in the capture); MOS is the E-model of the
#     exported jitter and loss.
. "$(dirname "$0")/lib.sh"
fp_lib_init qoe
fp_need "$FP_PY" ipfixDump
fp_need_flowpulse
CHECK=$FP_ROOT/tests/integration/qoe_check.py
fail=0

# ---------------------------------------------------------------------------------------------
# 1. generated captures

gen=$FP_TMP/gen
if ! "$FP_PY" "$FP_ROOT/tests/tools/qoegen.py" --out-dir "$gen" > "$FP_TMP/qoegen.log" 2>&1; then
    fp_fail "qoegen.py: $(tail -1 "$FP_TMP/qoegen.log")"
    exit 1
fi

PM_COLS="fpQoeValid, fpServerNwDelayUs, fpClientNwDelayUs, fpRttMinUs, fpRetransPackets"
PM_COLS+=", fpOutOfOrderPackets, fpZeroWindowEvents, fpTcpOutcome, fpDnsResponseUs, fpDnsRcode"
PM_COLS+=", fpRtpJitterUs, fpRtpLost, fpRtpMosX100"
pm=
if command -v nfacctd > /dev/null; then
    pm_port=$(fp_free_port udp)
    pm_csv=$FP_TMP/pm.csv
    cat > "$FP_TMP/nfacctd.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $pm_port
aggregate_primitives: $FP_ROOT/scripts/kits/pmacct/flowpulse_primitives
plugins: print[q]
aggregate[q]: src_host, dst_host, src_port, dst_port, proto, $PM_COLS
print_output[q]: csv
print_num_protos[q]: false
print_output_file[q]: $pm_csv
print_output_file_append[q]: true
print_refresh_time[q]: 1
logfile: $FP_TMP/nfacctd.log
CONF
    nfacctd -f "$FP_TMP/nfacctd.conf" > "$FP_TMP/nfacctd.out" 2>&1 &
    PM_PID=$!
    FP_PIDS+=("$PM_PID")
    if fp_wait_listen udp "$pm_port" 10; then
        pm="-e udp://127.0.0.1:$pm_port"
    else
        fp_fail "nfacctd did not start"; fail=1
    fi
else
    fp_skip "nfacctd not available: pmacct part"
fi

for n in tcp dns rtp; do
    cap=$gen/qoe_$n.pcap
    # shellcheck disable=SC2086
    if ! fp_flowpulse_run "$cap" "$gen/$n.log" -e "file:$gen/$n.ipfix" $pm; then
        fp_fail "flowpulse -r qoe_$n.pcap: $(tail -2 "$gen/$n.log")"
        fail=1
        continue
    fi
    ipfixDump --rfc5610 --in "$gen/$n.ipfix" > "$gen/$n.txt" 2> "$gen/$n.dump.err"
    if grep -q _alienInformationElement "$gen/$n.txt"; then
        fp_fail "qoe_$n: ipfixDump --rfc5610 did not name every element"
        fail=1
    fi
    if "$FP_PY" "$CHECK" gen "$gen/qoe_$n.json" "$gen/$n.txt" > "$gen/$n.check" 2>&1; then
        fp_pass "qoe_$n.pcap: $(grep -c '^ok' "$gen/$n.check") flows equal the truth (ipfixDump)"
    else
        grep -v '^ok' "$gen/$n.check" | head -30 >&2
        fp_fail "qoe_$n.pcap: $(grep -c '^FAIL' "$gen/$n.check") differences (see stderr)"
        fail=1
    fi
done

if [ -n "$pm" ]; then
    fp_wait_drained udp "$pm_port"
    sleep 2                            # print_refresh_time 1 s
    kill -INT "$PM_PID" 2>/dev/null    # nfacctd purges its cache on SIGINT
    fp_wait_pid "$PM_PID" 10
    fp_forget_pid "$PM_PID"
    touch "$pm_csv"
    if "$FP_PY" "$CHECK" pmacct "$gen"/qoe_*.json --csv "$pm_csv" > "$FP_TMP/pm.check" 2>&1; then
        fp_pass "nfacctd (aggregate_primitives kit only): $(grep '^ok' "$FP_TMP/pm.check" | sed 's/^ok *pmacct: //')"
    else
        grep -v '^ok' "$FP_TMP/pm.check" | head -30 >&2
        fp_fail "nfacctd: $(grep -c '^FAIL' "$FP_TMP/pm.check") differences (see stderr)"
        fail=1
    fi
fi

# ---------------------------------------------------------------------------------------------
# 2 + 3. ../shared/pcaps

mapfile -t shared < <(fp_shared_captures)
if [ ${#shared[@]} -eq 0 ]; then
    fp_skip "no captures in $FP_SHARED_PCAPS: shared part"
    exit $fail
fi
# Conferencing captures whose RTP tshark's heuristic may find (others: handshakes only).
RTP_CAPS=" rtp.pcapng sip.pcap wa_voice.pcap skype-conference-call.pcap teams.pcap line.pcap \
zoom.pcap google_meet.pcapng "
have_tshark=0
command -v tshark > /dev/null && have_tshark=1
# One Python pass finds the clean handshakes of every capture; flowpulse then runs only on
# the captures that have some, and on the conferencing ones.
hsdir=$FP_TMP/hs
mapfile -t with_hs < <("$FP_PY" "$CHECK" scan --out-dir "$hsdir" "${shared[@]}")
todo=()
for c in "${shared[@]}"; do
    if [[ " ${with_hs[*]} " == *" $c "* ]] || [[ $RTP_CAPS == *" $(basename "$c") "* ]]; then
        todo+=("$c")
    fi
done

# shellcheck disable=SC2317  # called through fp_run_captures
shared_one() { # CAPTURE: problems on stdout, details on stderr
    local cap=$1 name out rtp=()
    name=$(basename "$cap")
    out=$(mktemp -d "$FP_TMP/sh.XXXXXX")
    if ! fp_flowpulse_run "$cap" "$out/fp.log" "${FP_SMALL_RUN_OPTS[@]}" -e "file:$out/f.ipfix"; then
        echo "flowpulse failed: $(tail -1 "$out/fp.log")"
        return 1
    fi
    ipfixDump --rfc5610 --in "$out/f.ipfix" > "$out/dump.txt" 2>/dev/null
    if [ $have_tshark = 1 ] && [[ $RTP_CAPS == *" $name "* ]]; then
        tshark -q -o rtp.heuristic_rtp:TRUE -z rtp,streams -r "$cap" > "$out/streams.txt" 2>/dev/null
        rtp=(--rtp-streams "$out/streams.txt")
        if grep -q '^ *[0-9.]* *[0-9.]* .* 0x[0-9A-Fa-f]* ' "$out/streams.txt"; then
            tshark -r "$cap" -o rtp.heuristic_rtp:TRUE -Y rtp -T fields -e frame.time_epoch \
                -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e udp.srcport -e udp.dstport \
                -e rtp.ssrc -e rtp.seq -e rtp.timestamp -e rtp.p_type > "$out/rtp.tsv" 2>/dev/null
            rtp+=(--rtp-fields "$out/rtp.tsv")
        fi
    fi
    "$FP_PY" "$CHECK" shared "$cap" "$out/dump.txt" --handshakes "$hsdir/$name.hs.json" \
        "${rtp[@]}" > "$out/check" 2>&1
    local rc=$?
    grep -E '^(info|note|ok)' "$out/check" | sed "s|^|  [$name] |" >&2
    grep -E '^FAIL' "$out/check" | sed 's/^FAIL //'
    [ $rc -eq 0 ] || grep -q '^FAIL' "$out/check" || echo "qoe_check.py exit $rc: $(tail -1 "$out/check")"
    return 0
}

fp_run_captures shared_one "${todo[@]}"
hs=0 rtp_ok=0 rtp_all=0
for f in "$FP_TMP"/sh.*/check; do
    [ -f "$f" ] || continue
    n=$(sed -n 's/^info .*: \([0-9]*\) clean TCP handshakes.*/\1/p' "$f")
    hs=$((hs + ${n:-0}))
    n=$(sed -n 's/^info .*: \([0-9]*\) RTP directions.*/\1/p' "$f")
    rtp_all=$((rtp_all + ${n:-0}))
    rtp_ok=$((rtp_ok + $(grep -c '^ok .* rtp ' "$f")))
done
if [ ${#FP_PROBLEMS[@]} -gt 0 ]; then
    printf '  %s\n' "${FP_PROBLEMS[@]}" | head -40 >&2
    fp_fail "shared captures: ${#FP_PROBLEMS[@]} problems in $FP_CHECKED captures (see stderr)"
    fail=1
else
    fp_pass "shared captures: $hs clean TCP handshakes in ${#with_hs[@]} of ${#shared[@]} captures: SND, CND > 0 and within 1 % or 10 us"
fi
if [ $have_tshark = 0 ]; then
    fp_skip "tshark not available: RTP comparison"
elif [ "$rtp_all" -eq 0 ]; then
    fp_skip "tshark found no RTP stream in the conferencing captures"
elif [ ${#FP_PROBLEMS[@]} -eq 0 ]; then
    fp_pass "RTP: $rtp_ok of $rtp_all tshark stream directions: jitter, loss, MOS equal tshark / RFC 3550"
fi
exit $fail

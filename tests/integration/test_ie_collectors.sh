#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# FlowPulse enterprise elements through real collectors (loopback only).
#  1. flowpulse -r CAPTURE -e file:F: ipfixDump --rfc5610 (no element file) prints our
#     elements by name (classification and QoE come from the capture; values may be empty
#     until classification is wired).
#  2. scripts/ie_send (build/ie_send) pushes two records with known values through the real
#     exporter: ipfixDump --rfc5610 and ipfixDump --element-file scripts/kits/ipfixdump/... must
#     print them; pmacct's nfacctd configured ONLY with the generated aggregate_primitives
#     (print plugin) must print the class and QoE values sent.
# Values sent by ie_send (keep in step with scripts/ie_send.c):
#   record 0 IPv4 10.1.0.1:40001 -> 10.2.0.2:443 TCP: app youtube, class video (1), server
#     rr1.googlevideo.example, SND 12345, CND 2345, RTT min 1000 (dir 0) / 3000 (dir 1), score 87
#   record 1 IPv6 2001:db8::11:50000 -> 2001:db8::22:3478 UDP: app zoom, class conferencing
#     (2), RTP jitter 4321 / 1234, MOS x100 410 / 395, lost 7 / -1, score 72
. "$(dirname "$0")/lib.sh"
fp_lib_init ie_collectors
fp_need ipfixDump "$FP_PY"
fail=0
check() { # check LABEL FILE PATTERN...: every grep -E pattern must match
    local label=$1 f=$2 p
    shift 2
    for p in "$@"; do
        if ! grep -Eq -- "$p" "$f"; then
            fp_fail "$label: no match for /$p/"
            fail=1
            return 1
        fi
    done
    fp_pass "$label"
}

# 1. the daemon on a capture
cap=$FP_SHARED_PCAPS/443-chrome.pcap
if [ -x "$FP_BUILD/flowpulse" ] && [ -r "$cap" ]; then
    if fp_flowpulse_run "$cap" "$FP_TMP/fp.log" -e "file:$FP_TMP/cap.ipfix"; then
        ipfixDump --rfc5610 --in "$FP_TMP/cap.ipfix" > "$FP_TMP/cap.txt" 2>&1
        check "flowpulse capture: ipfixDump --rfc5610 names our elements" "$FP_TMP/cap.txt" \
            '\(32473/3\) +fpAppClass :' '\(32473/32\) +fpQoeValid :' \
            '\(372\) +applicationCategoryName :' 'ie: \(32473/96\) fpSpltPacketLength'
        if grep -q _alienInformationElement "$FP_TMP/cap.txt"; then
            fp_fail "flowpulse capture: ipfixDump saw unknown elements"
            fail=1
        fi
    else
        fp_fail "flowpulse -r $cap failed"; fail=1
    fi
else
    fp_skip "flowpulse or $cap missing: capture part"
fi

# 2. known values through the real exporter
SEND=$FP_BUILD/ie_send
if [ ! -x "$SEND" ]; then
    fp_skip "$SEND not built"
    exit $fail
fi
if ! "$SEND" "file:$FP_TMP/s.ipfix" > "$FP_TMP/send.log" 2>&1; then
    fp_fail "ie_send file"; exit 1
fi
for mode in rfc5610 element-file; do
    if [ $mode = rfc5610 ]; then
        ipfixDump --rfc5610 --in "$FP_TMP/s.ipfix" > "$FP_TMP/$mode.txt" 2>&1
    else
        ipfixDump --element-file "$FP_ROOT/scripts/kits/ipfixdump/flowpulse.xml" \
            --in "$FP_TMP/s.ipfix" > "$FP_TMP/$mode.txt" 2>&1
    fi
    check "ipfixDump --$mode" "$FP_TMP/$mode.txt" \
        'fpAppName : \(len: 7\) youtube' 'fpAppClass : \(len: 5\) video' \
        'fpAppClassId : 1$' 'fpServerName : \(len: 23\) rr1.googlevideo.example' \
        'applicationCategoryName : \(len: 12\) conferencing' \
        'fpServerNwDelayUs : 12345$' 'fpClientNwDelayUs : 2345$' 'fpRttMinUs : 3000$' \
        'fpQoeScore : 87$' 'fpQoeScore : 72$' 'fpRtpJitterUs : 4321$' 'fpRtpJitterUs : 1234$' \
        'fpRtpMosX100 : 410$' 'fpRtpMosX100 : 395$' 'fpRtpLost : -1$' \
        'ie: \(32473/98\) fpSpltInterArrivalUs'
done

# pmacct nfacctd: only the generated primitives file teaches it our elements
if ! command -v nfacctd >/dev/null; then
    fp_skip "nfacctd not available"
    exit $fail
fi
port=$(fp_free_port udp)
csv=$FP_TMP/pm.csv
cat > "$FP_TMP/nfacctd.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $port
aggregate_primitives: $FP_ROOT/scripts/kits/pmacct/flowpulse_primitives
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto, fpAppName, fpAppClass, fpAppClassId, fpServerNwDelayUs, fpClientNwDelayUs, fpRttMinUs, fpRtpJitterUs, fpRtpMosX100, fpQoeScore, fpServerName
print_output[p]: csv
print_output_file[p]: $csv
print_output_file_append[p]: true
print_refresh_time[p]: 1
CONF
nfacctd -f "$FP_TMP/nfacctd.conf" > "$FP_TMP/nfacctd.log" 2>&1 &
NFPID=$!
FP_PIDS+=("$NFPID")
fp_wait_listen udp "$port" 10 || { fp_fail "nfacctd did not start"; exit 1; }
"$SEND" "udp://127.0.0.1:$port" > "$FP_TMP/send-udp.log" 2>&1 || { fp_fail "ie_send udp"; fail=1; }
fp_wait_drained udp "$port"
sleep 2                       # print_refresh_time 1 s
kill -INT "$NFPID" 2>/dev/null # nfacctd purges its cache on SIGINT (SIGTERM may hang)
fp_wait_pid "$NFPID" 10
fp_forget_pid "$NFPID"
touch "$csv"
# columns: src dst sport dport proto name class classid snd cnd rttmin jitter mos score server
check "nfacctd (aggregate_primitives only)" "$csv" \
    '^10\.1\.0\.1,10\.2\.0\.2,40001,443,tcp,youtube,video,1,12345,2345,1000,0,0,87,rr1\.googlevideo\.example,10,5000$' \
    '^10\.2\.0\.2,10\.1\.0\.1,443,40001,tcp,youtube,video,1,12345,2345,3000,0,0,87,rr1\.googlevideo\.example,8,9000$' \
    '^2001:db8::11,2001:db8::22,50000,3478,udp,zoom,conferencing,2,0,0,0,4321,410,72,,1000,200000$' \
    '^2001:db8::22,2001:db8::11,3478,50000,udp,zoom,conferencing,2,0,0,0,1234,395,72,,900,180000$'
exit $fail

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NetFlow v9 and v5 export by the daemon itself: build/flowpulse -r CAPTURE
#   -e nfv9+udp://127.0.0.1:P1 -e nfv5+udp://127.0.0.1:P2
# into nfcapd (nfdump 1.7.1) and nfacctd (pmacct 1.7.7), then the other way round. The records
# each collector stored must equal the ground truth of tests/tools/truth.py exactly (per uniflow
# 5-tuple: packets and bytes); NetFlow v5 carries IPv4 only, so its truth is filtered to IPv4
# flows. tshark captures the export ports and must decode every packet as NetFlow (cflow) with
# nothing malformed. Prints PASS/FAIL/SKIP lines; exit status 1 on any failure.
. "$(dirname "$0")/lib.sh"
fp_lib_init netflow_export
fp_need nfcapd nfdump nfacctd tshark "$FP_PY"
fp_need_flowpulse

fails=0
TRUTH_DIR=${FP_TRUTH_CACHE:-$FP_TMP/truth}
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
fp_truth_many "$TRUTH_DIR" "$MIX" || { fp_fail "truth.py failed"; exit 1; }
TRUTH=$TRUTH_DIR/mix.pcap.truth
# v5: IPv4 uniflows only (ground truth filtered independently of the exporter)
"$FP_PY" - "$TRUTH" > "$FP_TMP/truth4" <<'PYEOF'
import ipaddress, sys
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    if ipaddress.ip_address(line.split()[0]).version == 4:
        sys.stdout.write(line)
PYEOF
n4=$(wc -l < "$FP_TMP/truth4")
n_all=$(grep -vc '^#' "$TRUTH")
if [ "$n4" -eq 0 ] || [ "$n4" -eq "$n_all" ]; then
    fp_fail "the mix capture must hold IPv4 and IPv6 flows (IPv4 $n4 of $n_all)"
    exit 1
fi
fp_log "ground truth: $n_all uniflows, $n4 IPv4"

check() { # LABEL TRUTH GOT
    if fp_compare "$2" "$3" "$1" >&2; then
        fp_pass "$1 records equal the ground truth ($(wc -l < "$3") uniflows)"
    else
        fp_fail "$1 records differ from the ground truth"
        fails=$((fails + 1))
    fi
}

# round V9_COLLECTOR V5_COLLECTOR: nfcapd|nfacctd for each version
round() {
    local c9=$1 c5=$2 p9 p5 tag="v9->$1 v5->$2"
    fp_nfcapd_start || { fp_fail "$tag: nfcapd did not start"; fails=$((fails + 1)); return; }
    fp_nfacctd_start || { fp_fail "$tag: nfacctd did not start"; fails=$((fails + 1)); return; }
    if [ "$c9" = nfcapd ]; then p9=$NFCAPD_PORT; p5=$NFACCTD_PORT; else p9=$NFACCTD_PORT; p5=$NFCAPD_PORT; fi
    # tshark on both export ports, each decoded as NetFlow
    local pcap=$FP_TMP/export-$c9.pcapng
    tshark -q -i lo -f "udp port $p9 or udp port $p5" -w "$pcap" > "$FP_TMP/tshark.log" 2>&1 &
    local tpid=$!
    FP_PIDS+=("$tpid")
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "Capturing on" "$FP_TMP/tshark.log" 2>/dev/null && break
        sleep 0.05
    done
    sleep 1
    if ! fp_flowpulse_run "$MIX" "$FP_TMP/run-$c9.log" -e "nfv9+udp://127.0.0.1:$p9" \
        -e "nfv5+udp://127.0.0.1:$p5"; then
        fp_fail "$tag: flowpulse failed"
        tail -5 "$FP_TMP/run-$c9.log" >&2
        fails=$((fails + 1))
    fi
    fp_nfcapd_stop "$FP_TMP/nfcapd-$c9.lines"
    fp_nfacctd_stop "$FP_TMP/nfacctd-$c9.lines"
    sleep 0.3
    kill -INT "$tpid" 2>/dev/null
    fp_wait_pid "$tpid" 10
    fp_forget_pid "$tpid"
    if [ "$c9" = nfcapd ]; then
        check "$tag: nfcapd (v9)" "$TRUTH" "$FP_TMP/nfcapd-$c9.lines"
        check "$tag: nfacctd (v5, IPv4)" "$FP_TMP/truth4" "$FP_TMP/nfacctd-$c9.lines"
    else
        check "$tag: nfacctd (v9)" "$TRUTH" "$FP_TMP/nfacctd-$c9.lines"
        check "$tag: nfcapd (v5, IPv4)" "$FP_TMP/truth4" "$FP_TMP/nfcapd-$c9.lines"
    fi
    # tshark: every export packet is NetFlow of the right version, none malformed
    local n9 n5 bad
    n9=$(tshark -r "$pcap" -d "udp.port==$p9,cflow" -d "udp.port==$p5,cflow" \
        -Y "cflow.version == 9" 2>/dev/null | wc -l)
    n5=$(tshark -r "$pcap" -d "udp.port==$p9,cflow" -d "udp.port==$p5,cflow" \
        -Y "cflow.version == 5" 2>/dev/null | wc -l)
    bad=$(tshark -r "$pcap" -d "udp.port==$p9,cflow" -d "udp.port==$p5,cflow" \
        -Y "_ws.malformed || _ws.expert.severity>=error || (udp && !cflow)" 2>/dev/null)
    if [ "$n9" -gt 0 ] && [ "$n5" -gt 0 ] && [ -z "$bad" ]; then
        fp_pass "$tag: tshark decodes $n9 v9 and $n5 v5 packets, none malformed"
    else
        fp_fail "$tag: tshark: v9 $n9, v5 $n5 packets; malformed: $(echo "$bad" | head -3)"
        fails=$((fails + 1))
    fi
    # the exit log names the v5 IPv6 directions skipped
    if grep -q "NetFlow v5: .* IPv6 directions skipped" "$FP_TMP/run-$c9.log" &&
        ! grep -q "NetFlow v5: .* 0 IPv6 directions skipped" "$FP_TMP/run-$c9.log"; then
        fp_pass "$tag: exit log counts the IPv6 directions v5 could not carry"
    else
        fp_fail "$tag: exit log lacks the v5 IPv6-skipped count"
        grep "collector" "$FP_TMP/run-$c9.log" >&2
        fails=$((fails + 1))
    fi
}

round nfcapd nfacctd
round nfacctd nfcapd

if [ "$fails" -ne 0 ]; then
    fp_fail "$fails check(s) failed"
    exit 1
fi
fp_pass "all NetFlow export checks"
exit 0

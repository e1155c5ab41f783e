#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# IPFIX over UDP into nfcapd (nfdump 1.7.1): for the generated `mix` capture and for every
# capture in ../shared/pcaps, the records nfcapd stored must equal the ground truth of
# tests/tools/truth.py exactly (per uniflow 5-tuple: packets and bytes). The `mix` run uses
# the default settings and is exported to nfacctd (pmacct) at the same time; its IPFIX
# traffic is captured on lo and decoded by tshark, which must find nothing malformed.
. "$(dirname "$0")/lib.sh"
fp_lib_init nfcapd_udp
fp_need nfcapd nfdump
fp_need_flowpulse

TRUTH_DIR=${FP_TRUTH_CACHE:-$FP_TMP/truth}
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
mapfile -t SHARED < <(fp_shared_captures)
fp_truth_many "$TRUTH_DIR" "$MIX" "${SHARED[@]}" || { fp_fail "truth.py failed"; exit 1; }

# check_mix: defaults, nfcapd + nfacctd + tshark.
check_mix() {
    local cap=$1 name truth got rc=0 urls=()
    name=$(basename "$cap")
    truth=$TRUTH_DIR/$name.truth
    got=$FP_TMP/$name
    fp_nfcapd_start || { echo "nfcapd did not start"; return 1; }
    urls+=(-e "udp://127.0.0.1:$NFCAPD_PORT")
    NFACCTD_PID='' TSHARK_PID=''
    if command -v nfacctd >/dev/null; then
        fp_nfacctd_start && urls+=(-e "udp://127.0.0.1:$NFACCTD_PORT")
    else
        fp_log "nfacctd not installed: not checked"
    fi
    if command -v tshark >/dev/null; then
        fp_tshark_start udp "$NFCAPD_PORT" || echo "tshark did not start"
    else
        fp_log "tshark not installed: export traffic not checked"
    fi
    fp_flowpulse_run "$cap" "$got.log" "${urls[@]}" || {
        rc=$?
        echo "flowpulse exited $rc"
        tail -5 "$got.log" >&2
    }
    fp_nfcapd_stop "$got.nfcapd"
    fp_compare "$truth" "$got.nfcapd" "$name nfcapd" >&2 || echo "nfcapd records differ"
    if [ -n "$NFACCTD_PID" ]; then
        fp_nfacctd_stop "$got.nfacctd"
        fp_compare "$truth" "$got.nfacctd" "$name nfacctd" >&2 || echo "nfacctd records differ"
    fi
    if [ -n "$TSHARK_PID" ]; then
        fp_tshark_check || echo "tshark found malformed IPFIX"
    fi
}

# check_one CAPTURE: small-run settings, nfcapd only.
check_one() {
    local cap=$1 name truth got rc=0
    name=$(basename "$cap")
    truth=$TRUTH_DIR/$name.truth
    got=$FP_TMP/$name
    fp_nfcapd_start || { echo "nfcapd did not start"; return 1; }
    fp_flowpulse_run "$cap" "$got.log" -e "udp://127.0.0.1:$NFCAPD_PORT" \
        "${FP_SMALL_RUN_OPTS[@]}" || {
        rc=$?
        echo "flowpulse exited $rc"
        tail -5 "$got.log" >&2
    }
    fp_nfcapd_stop "$got.nfcapd"
    fp_compare "$truth" "$got.nfcapd" "$name nfcapd" >&2 || echo "nfcapd records differ"
}

fp_check_corpus check_mix "$MIX" check_one "${SHARED[@]}"

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# IPFIX over TCP into ipfixDump (libfixbuf) behind socat: for the generated `mix` capture and
# for every capture in ../shared/pcaps, the data records ipfixDump decoded must equal the
# ground truth of tests/tools/truth.py exactly (per uniflow 5-tuple: packets and bytes).
# The `mix` run uses the default settings and its TCP stream is also decoded by tshark,
# which must find nothing malformed.
. "$(dirname "$0")/lib.sh"
fp_lib_init ipfixdump_tcp
fp_need socat ipfixDump
fp_need_flowpulse

TRUTH_DIR=${FP_TRUTH_CACHE:-$FP_TMP/truth}
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
mapfile -t SHARED < <(fp_shared_captures)
fp_truth_many "$TRUTH_DIR" "$MIX" "${SHARED[@]}" || { fp_fail "truth.py failed"; exit 1; }

# check_one CAPTURE [mix]: flowpulse -r CAPTURE -e tcp://socat → ipfixDump; compare.
check_one() {
    local cap=$1 mix=${2:-} name truth got rc=0 opts=()
    name=$(basename "$cap")
    truth=$TRUTH_DIR/$name.truth
    got=$FP_TMP/$name
    fp_ipfixdump_start || { echo "socat/ipfixDump did not start"; return 1; }
    TSHARK_PID=''
    if [ -n "$mix" ] && command -v tshark >/dev/null; then
        fp_tshark_start tcp "$IPFIXDUMP_PORT" || echo "tshark did not start"
    fi
    [ -n "$mix" ] || opts=("${FP_SMALL_RUN_OPTS[@]}")
    fp_flowpulse_run "$cap" "$got.log" -e "tcp://127.0.0.1:$IPFIXDUMP_PORT" "${opts[@]}" || {
        rc=$?
        echo "flowpulse exited $rc"
        tail -5 "$got.log" >&2
    }
    fp_ipfixdump_stop "$got.ipfixdump"
    if [ ! -s "$IPFIXDUMP_DIR/stream.ipfix" ]; then
        echo "no IPFIX received over TCP"
    fi
    fp_compare "$truth" "$got.ipfixdump" "$name ipfixDump" >&2 || echo "ipfixDump records differ"
    if [ -n "$TSHARK_PID" ]; then
        fp_tshark_check || echo "tshark found malformed IPFIX"
    fi
}

check_mix() { check_one "$1" mix; }

fp_check_corpus check_mix "$MIX" check_one "${SHARED[@]}"

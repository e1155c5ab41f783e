#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Collector outage: an IPFIX-over-TLS collector (socat OPENSSL-LISTEN, client certificate
# required → file → ipfixDump) is killed while a generated capture plays at its own pace
# (capture.pace), stays down for FP_OUTAGE_SECONDS (default 30, as the issue asks; a quick
# look: FP_OUTAGE_SECONDS=10) and comes back on the same port. Then:
#   - every record arrives, in the exporter's order: the records of both collector processes,
#     concatenated, with repeats removed (records of messages not yet acknowledged when the
#     collector died are sent again; their number is reported and bounded by 4096, the
#     records in flight per session), are exactly those a file collector of the same run
#     received, in the same order (the exporter's order), and per 5-tuple the paced run's
#     records equal those of an unpaced reference run;
#   - totals equal the ground truth (tests/tools/truth.py), and flowpulse counted nothing
#     as not sent.
# Two variants: the default memory queue, and a 64-record memory queue with an on-disk spool
# (export.spool_dir; capture at twice its speed, down for half as long), where spool segment
# files (seg-*.ipfix, RFC 5655) must appear during the outage, a copy of one must decode with
# ipfixDump (at least one data record with a flowId, no error), and they must be gone after
# the run.
. "$(dirname "$0")/lib.sh"
fp_lib_init outage
fp_need socat ipfixDump openssl
fp_need_flowpulse

OUT=${FP_OUTAGE_SECONDS:-30}
BOUND=4096
CERTS=$FP_TMP/certs
"$FP_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null || { fp_fail "make-certs.sh failed"; exit 1; }
CAP=$FP_TMP/paced.pcap
SECS=$((OUT + 10)) # capture time: 2-8 s before the outage, the outage, a few seconds after
fp_gen_mix "$CAP" --flows 2000 --pps $((10180 / SECS)) || { fp_fail "fpgen failed"; exit 1; }
fp_truth "$CAP" "$FP_TMP/truth" || { fp_fail "truth.py failed"; exit 1; }
RECS=$FP_ROOT/tests/integration/ipfix_records.py
FLOW_OPTS=(-o flow.idle_timeout=1 -o control.socket=)
TLS_OPTS=(-o "export.tls_cert=$CERTS/exporter.pem" -o "export.tls_key=$CERTS/exporter.key"
          -o "export.tls_ca=$CERTS/ca.pem" -o export.retry_min=0.2 -o export.retry_max=1
          -o export.drain_timeout=10)
problems=()

fp_flowpulse_run "$CAP" "$FP_TMP/ref.log" -e "file:$FP_TMP/ref.ipfix" "${FLOW_OPTS[@]}" ||
    { fp_fail "reference run failed: $(tail -1 "$FP_TMP/ref.log")"; exit 1; }
ipfixDump --in "$FP_TMP/ref.ipfix" --out "$FP_TMP/ref.dump" 2>/dev/null
"$FP_PY" "$RECS" union --bound 0 --out "$FP_TMP/ref.got" "$FP_TMP/ref.dump" > /dev/null

# variant NAME PACE DOWN_S [flowpulse args]: one outage run with the capture played at PACE
# times its speed and the collector down for DOWN_S s; problems are prefixed with NAME.
variant() {
    local name=$1 pace=$2 out=$3 spool=
    shift 3
    local port
    for arg in "$@"; do
        case $arg in export.spool_dir=*) spool=${arg#export.spool_dir=} ;; esac
    done
    port=$(fp_free_port tcp)
    fp_tls_collector "$name-1" "$port"
    local c1=$COLL_PID
    timeout -k 5 $((SECS + OUT + 40)) "$FP_BUILD/flowpulse" -r "$CAP" -o capture.progress=false \
        -o "capture.pace=$pace" "${FLOW_OPTS[@]}" "${TLS_OPTS[@]}" "$@" -e "tls://localhost:$port" \
        -e "file:$FP_TMP/$name-order.ipfix" > "$FP_TMP/$name.log" 2>&1 &
    local fpid=$!
    FP_PIDS+=("$fpid")
    # the collector dies once it holds 10 flow records (mid-export), for DOWN_S seconds
    local t0=$SECONDS n
    while [ $((SECONDS - t0)) -lt $((8 / pace)) ] &&
        [ "$(fp_flow_records "$FP_TMP/$name-1.ipfix")" -lt 10 ]; do
        sleep 0.2
    done
    n=$(fp_flow_records "$FP_TMP/$name-1.ipfix")
    [ "$n" -ge 10 ] || problems+=("$name: the collector received only $n flow records in $((8 / pace)) s")
    kill -KILL "$c1" 2>/dev/null
    wait "$c1" 2>/dev/null
    fp_forget_pid "$c1"
    local down=$SECONDS spooled=0 dumped=0 f recs
    local copy=$FP_TMP/$name-spool-copy.ipfix
    fp_log "$name: collector killed after $n flow records; down for $out s"
    while [ $((SECONDS - down)) -lt "$out" ]; do
        # a segment holding at least one data message (the template message alone is ~200 B):
        # copy it (whole messages only are written, one write each) and decode the copy
        if [ -n "$spool" ] && [ "$dumped" = 0 ]; then
            f=$(find "$spool" -name 'seg-*.ipfix' -size +1k 2>/dev/null | sort | head -1)
            if [ -n "$f" ] && cp "$f" "$copy" 2>/dev/null; then
                [ "$spooled" = 1 ] || fp_log "$name: spool in use: ${f#"$FP_TMP"/}"
                spooled=1
                if ipfixDump --in "$copy" --out "$FP_TMP/$name-spool.dump" \
                        2> "$FP_TMP/$name-spool.err" && [ ! -s "$FP_TMP/$name-spool.err" ] &&
                    grep -Eq 'flowId : [0-9]+' "$FP_TMP/$name-spool.dump"; then
                    dumped=1
                    recs=$(grep -c '^--- data record' "$FP_TMP/$name-spool.dump")
                    fp_log "$name: ipfixDump decoded $recs data record(s) of a copy of ${f##*/}"
                fi
            fi
        fi
        sleep 0.2
    done
    kill -0 "$fpid" 2>/dev/null || problems+=("$name: the capture ended during the outage")
    fp_tls_collector "$name-2" "$port"
    local c2=$COLL_PID
    fp_log "$name: collector back after $((SECONDS - down)) s"
    fp_wait_pid "$fpid" $((SECS + 40))
    local rc=$?
    fp_forget_pid "$fpid"
    [ $rc -eq 0 ] || problems+=("$name: flowpulse exited with status $rc")
    fp_wait_pid "$c2" 10
    fp_forget_pid "$c2"
    grep "export:\|collector 0:" "$FP_TMP/$name.log" | sed 's/^/  /' >&2
    grep -q "collector 0: .* 0 records not sent" "$FP_TMP/$name.log" ||
        problems+=("$name: flowpulse counted records not sent")
    if [ -n "$spool" ]; then
        [ "$spooled" = 1 ] || problems+=("$name: no spool segment appeared in $spool")
        [ "$spooled" = 0 ] || [ "$dumped" = 1 ] || problems+=("$name: ipfixDump did not decode a \
copy of a spool segment: $(head -c 300 "$FP_TMP/$name-spool.err" 2>/dev/null)")
        [ -z "$(find "$spool" -name 'seg-*.ipfix' 2>/dev/null)" ] ||
            problems+=("$name: spool files left after the run")
    fi
    for c in "$name-1" "$name-2"; do
        touch "$FP_TMP/$c.ipfix"
        ipfixDump --in "$FP_TMP/$c.ipfix" --out "$FP_TMP/$c.dump" 2> "$FP_TMP/$c.ipfixdump.log"
    done
    # The exporter's own order: a file collector of the same run, never down, gets every
    # record in the order the exporter produced it (flush order at the end of a capture
    # depends on the timer wheel's history, so another run is no reference for order).
    ipfixDump --in "$FP_TMP/$name-order.ipfix" --out "$FP_TMP/$name-order.dump" 2>/dev/null
    "$FP_PY" "$RECS" union --bound 0 --out "$FP_TMP/$name-order.got" "$FP_TMP/$name-order.dump" \
        > /dev/null
    fp_compare "$FP_TMP/ref.got" "$FP_TMP/$name-order.got" "outage $name (paced = unpaced)" >&2 ||
        problems+=("$name: the paced run's records differ from the unpaced run's")
    local out
    out=$("$FP_PY" "$RECS" order --bound "$BOUND" "$FP_TMP/$name-order.dump" "$FP_TMP/$name-1.dump" \
        "$FP_TMP/$name-2.dump") || problems+=("$name: records missing, out of order or too many repeats")
    echo "$out" | grep -v '^duplicates' >&2
    DUPS[$name]=$(echo "$out" | awk '/^duplicates/ { print $2 }')
    "$FP_PY" "$RECS" union --bound "$BOUND" --out "$FP_TMP/$name.got" "$FP_TMP/$name-1.dump" \
        "$FP_TMP/$name-2.dump" > /dev/null
    fp_compare "$FP_TMP/truth" "$FP_TMP/$name.got" "outage $name" >&2 ||
        problems+=("$name: totals differ from the truth")
}

declare -A DUPS
variant memory 1 "$OUT"
# (spool: the capture at twice its speed, down for half as long, to keep the test short)
variant spool 2 $((OUT / 2)) -o export.queue_records=64 -o "export.spool_dir=$FP_TMP/spool"

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "TLS collector down ${OUT} s (memory queue, ${DUPS[memory]} repeat(s)) and $((OUT / 2)) s (spool, ${DUPS[spool]} repeat(s)): every record arrived in order, totals = truth (repeat bound $BOUND)"

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Shutdown: a live run (not -r) gets SIGTERM while its flows are still active in the cache
# (no timeout has expired); every flow must still be exported, exactly, to nfcapd.
#   1. file port: capture.ports device "net_pcap0,rx_pcap=mix.pcap" — the port delivers the
#      whole capture, then stays up with no packet; SIGTERM after that.
#   1b. like 1 with 40000 uniflows and a 1024-record export ring: the final flush outgrows the
#      ring and must wait for the exporter (nothing counted lost to a full ring).
#   1c. like 1 with capture.mbuf_size=256: frames over 128 bytes arrive as chained mbufs.
#   2. slow source: the same vdev reads a FIFO fed at a low rate with the first part of the
#      capture; SIGTERM arrives while the source is still open (connections cut mid-way).
#      Truth = the packets written to the FIFO.
. "$(dirname "$0")/lib.sh"
fp_lib_init shutdown
fp_need nfcapd nfdump
fp_need_flowpulse

MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
problems=()

# run_live NAME SOURCE TRUTH [before_term_cmd...]: flowpulse on a net_pcap port reading
# SOURCE, SIGTERM once `before_term_cmd` returns, compare with TRUTH.
run_live() {
    local name=$1 src=$2 truth=$3
    shift 3
    local conf=$FP_TMP/$name.conf log=$FP_TMP/$name.log got=$FP_TMP/$name.nfcapd rc=0
    local extra=()
    # (flows that ended by FIN linger until SIGTERM: all records come from the final flush)
    [ -n "${RING_SIZE:-}" ] &&
        extra=(-o "export.ring_size=$RING_SIZE" -o flow.tcp_end_timeout=600)
    [ -n "${MBUF_SIZE:-}" ] && extra+=(-o "capture.mbuf_size=$MBUF_SIZE")
    cat > "$conf" <<CONF
capture = {
    ports = ( { device = "net_pcap0,rx_pcap=$src"; } );
    progress = false;
};
CONF
    fp_nfcapd_start || { problems+=("$name: nfcapd did not start"); return; }
    : > "$log"
    "$FP_BUILD/flowpulse" -c "$conf" "${extra[@]}" -e "udp://127.0.0.1:$NFCAPD_PORT" > "$log" 2>&1 &
    local pid=$!
    FP_PIDS+=("$pid")
    # the port runs once flowpulse logs "... polling their queues"
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q "polling" "$log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    "$@"
    if ! kill -0 "$pid" 2>/dev/null; then
        problems+=("$name: flowpulse exited before SIGTERM")
        sed 's/^/    /' "$log" | tail -5 >&2
    fi
    kill -TERM "$pid" 2>/dev/null
    fp_wait_pid "$pid" "${FP_STOP_TIMEOUT:-20}" || rc=$?
    fp_forget_pid "$pid"
    [ $rc -eq 0 ] || problems+=("$name: flowpulse exit status $rc after SIGTERM")
    fp_nfcapd_stop "$got"
    grep -E "packets received|forced" "$log" | sed "s/^/    [$name] /" >&2
    if ! grep -q "records lost to a full ring 0[^0-9]" "$log"; then
        problems+=("$name: records lost to a full export ring (or no accounting line)")
    fi
    if [ -n "${RING_SIZE:-}" ] && grep -qE "waits for the exporter 0[^0-9]" "$log"; then
        problems+=("$name: the final flush never filled the ring (test did not exercise it)")
    fi
    # the point is flows still in the cache at SIGTERM: flowpulse reports them as "forced N"
    if grep -qE "forced 0[^0-9]" "$log"; then
        problems+=("$name: no flow was active at SIGTERM (test did not exercise shutdown)")
    fi
    fp_compare "$truth" "$got" "shutdown $name" >&2 || problems+=("$name: records differ")
}

# 1. whole capture, then idle
fp_truth "$MIX" "$FP_TMP/mix.truth" || { fp_fail "truth.py failed"; exit 1; }
run_live file "$MIX" "$FP_TMP/mix.truth" sleep "${FP_SHUTDOWN_WAIT:-3}"

# 1b. more active flows at SIGTERM than the export ring holds: the final flush must wait for
#     the exporter instead of dropping records (a live port never waits on packets)
MANY=$FP_TMP/many.pcap
"$FP_BUILD/fpgen" --profile bench64 --flows 40000 --packets 120000 -o "$MANY" > /dev/null ||
    { fp_fail "fpgen bench64 failed"; exit 1; }
fp_truth "$MANY" "$FP_TMP/many.truth" || { fp_fail "truth.py failed"; exit 1; }
RING_SIZE=1024 run_live many "$MANY" "$FP_TMP/many.truth" sleep "${FP_SHUTDOWN_WAIT:-3}"

# 1c. like 1 with 256-byte mbufs (128 of them headroom): longer frames arrive as chained mbufs,
#     only the first segment is decoded, and every byte must still be counted exactly
MBUF_SIZE=256 run_live small-mbufs "$MIX" "$FP_TMP/mix.truth" sleep "${FP_SHUTDOWN_WAIT:-3}"

# 2. slow FIFO source, first 600 packets at 1000 pps, SIGTERM while it is still open
FIFO=$FP_TMP/feed.fifo
mkfifo "$FIFO"
"$FP_PY" "$FP_ROOT/tests/integration/feed_pcap.py" "$MIX" "$FIFO" --count 600 --pps 1000 \
    --copy "$FP_TMP/partial.pcap" --done "$FP_TMP/fed" &
FEED_PID=$!
FP_PIDS+=("$FEED_PID")
# Before SIGTERM: wait until the feeder wrote its packets (and flowpulse read them), take
# the truth of what was written, and close the FIFO a little after SIGTERM, so that a read
# blocked in libpcap returns.
slow_before_term() {
    local i
    for ((i = 0; i < 300; i++)); do
        [ -e "$FP_TMP/fed" ] && break
        sleep 0.1
    done
    sleep "${FP_SHUTDOWN_WAIT:-2}"
    fp_truth "$FP_TMP/partial.pcap" "$FP_TMP/partial.truth"
    (sleep 1; kill -TERM "$FEED_PID" 2>/dev/null) &
}
run_live slow "$FIFO" "$FP_TMP/partial.truth" slow_before_term
kill -TERM "$FEED_PID" 2>/dev/null
wait "$FEED_PID" 2>/dev/null
fp_forget_pid "$FEED_PID"
if [ -f "$FP_TMP/partial.truth" ]; then
    n=$(awk '$2 == "packets" { print $3 }' "$FP_TMP/partial.truth")
    [ "$n" = 600 ] || problems+=("slow: fed $n packets instead of 600")
fi

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "live runs stopped by SIGTERM exported every active flow"

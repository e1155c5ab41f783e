#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Live capture: a private network namespace holds a veth pair and an nfcapd on its own
# loopback. flowpulse captures one end through DPDK's net_af_packet vdev, tcpreplay sends
# the generated `mix` capture into the other end, flowpulse gets SIGTERM, and the records
# nfcapd stored must equal the ground truth of the capture. Nothing leaves the namespace;
# it is deleted on exit.
. "$(dirname "$0")/lib.sh"
fp_lib_init live_veth
fp_need ip tcpreplay nfcapd nfdump tshark
fp_need_flowpulse
if [ "$(id -u)" != 0 ]; then
    fp_skip "needs root for network namespaces"
    exit 0
fi

NS=fptest-$$
VA=fpa$$
VB=fpb$$
VA=${VA:0:15}
VB=${VB:0:15}
ns_cleanup() {
    ip netns del "$NS" 2>/dev/null
}
FP_CLEANUP_HOOK=ns_cleanup

if ! ip netns add "$NS" 2>/dev/null; then
    fp_skip "cannot create a network namespace here"
    exit 0
fi
# No IPv6 in the namespace: the veths must not send their own RS/DAD/MLD packets, which
# flowpulse would meter but the capture does not contain.
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
if ! ip -n "$NS" link add "$VA" type veth peer name "$VB" 2>/dev/null; then
    fp_skip "cannot create a veth pair"
    exit 0
fi
ip -n "$NS" link set lo up
for v in "$VA" "$VB"; do
    # room for the QinQ frames of the mix (1500-byte IP packets + two tags)
    ip -n "$NS" link set "$v" mtu 9000 arp off multicast off up
done
fp_set_ns "$NS"

# DPDK's af_packet PMD always joins a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the
# kernel reassembles IPv4 fragments before flowpulse sees them (and holds an orphan later
# fragment forever). Replay the mix without its fragments; fragments are covered by the
# capture-file tests.
fp_gen_mix "$FP_TMP/mix-all.pcap" || { fp_fail "fpgen failed"; exit 1; }
MIX=$FP_TMP/mix.pcap
tshark -r "$FP_TMP/mix-all.pcap" -o ip.defragment:FALSE \
    -Y "not (ip.flags.mf == 1 || ip.frag_offset > 0)" -F pcap -w "$MIX" 2>/dev/null ||
    { fp_fail "tshark could not filter the capture"; exit 1; }
fp_truth "$MIX" "$FP_TMP/mix.truth" || { fp_fail "truth.py failed"; exit 1; }

fp_nfcapd_start || { fp_fail "nfcapd did not start in $NS"; exit 1; }
cat > "$FP_TMP/live.conf" <<CONF
capture = {
    eal_args = "--no-huge --no-pci --in-memory";
    ports = ( { device = "net_af_packet0,iface=$VB"; } );
    progress = false;
};
CONF
ip netns exec "$NS" "$FP_BUILD/flowpulse" -c "$FP_TMP/live.conf" \
    -e "udp://127.0.0.1:$NFCAPD_PORT" > "$FP_TMP/flowpulse.log" 2>&1 &
FP_PID=$!
FP_PIDS+=("$FP_PID")

# Wait until the workers poll: flowpulse logs "... polling their queues" once the port runs.
up=0
for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$FP_PID" 2>/dev/null; then
        break
    fi
    if grep -q "polling" "$FP_TMP/flowpulse.log"; then
        up=1
        break
    fi
    sleep 0.1
done
if [ $up = 0 ]; then
    sed 's/^/    /' "$FP_TMP/flowpulse.log" | tail -10 >&2
    fp_fail "flowpulse did not open $VB"
    exit 1
fi
sleep 0.5

problems=()
if ! ip netns exec "$NS" tcpreplay -q -i "$VA" --pps "${FP_REPLAY_PPS:-2000}" "$MIX" \
    > "$FP_TMP/tcpreplay.log" 2>&1; then
    problems+=("tcpreplay failed: $(tail -1 "$FP_TMP/tcpreplay.log")")
fi
sleep "${FP_SHUTDOWN_WAIT:-1.5}"
kill -TERM "$FP_PID" 2>/dev/null
fp_wait_pid "$FP_PID" "${FP_STOP_TIMEOUT:-20}" || problems+=("flowpulse exit status $? after SIGTERM")
fp_forget_pid "$FP_PID"
fp_nfcapd_stop "$FP_TMP/got.txt"
grep -E "packets received|forced" "$FP_TMP/flowpulse.log" | sed 's/^/    /' >&2
fp_compare "$FP_TMP/mix.truth" "$FP_TMP/got.txt" "live veth" >&2 || problems+=("records differ")

if [ ${#problems[@]} -ne 0 ]; then
    printf '  %s\n' "${problems[@]}" >&2
    fp_fail "${#problems[@]} problem(s)"
    exit 1
fi
fp_pass "live af_packet capture of the mix replay equals truth"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NetFlow v9 and v5 encoders (src/export/netflow.c) into real collectors on 127.0.0.1:
# nfcapd (nfdump 1.7.1) and nfacctd (pmacct 1.7.7), plus tshark on the wire.
# build/nf_send builds a deterministic record set (IPv4 + IPv6, TCP/UDP/ICMP, one-way flows,
# counters over 2^32, flows starting hours before others, year 2015), prints it, and sends it.
# The expected uniflows (per 5-tuple packets and bytes, v5: IPv4 only) and their first/last
# times are computed here from that list, independently of the encoder; nfcapd's times are
# compared to the millisecond. Prints PASS/FAIL/SKIP lines; exit status 1 on any failure.
. "$(dirname "$0")/lib.sh"
fp_lib_init netflow
fp_need nfcapd nfdump nfacctd tshark "$FP_PY"

NF_SEND=$FP_BUILD/nf_send
if [ ! -x "$NF_SEND" ]; then
    fp_skip "$NF_SEND not built (make BUILD=$FP_BUILD all)"
    exit 0
fi
N_RECS=${FP_NETFLOW_RECORDS:-300}
fails=0

# expected LIST VERSION OUT [times]: uniflow lines from nf_send's list.
#   default: "SRC DST SPORT DPORT PROTO PACKETS BYTES" (compare.py format)
#   times:   "SRC DST SPORT DPORT PROTO FIRST_MS LAST_MS" (ICMP ports 0)
expected() {
    "$FP_PY" - "$@" <<'EOF'
import sys
lst, ver, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = len(sys.argv) > 4
with open(lst) as f, open(out, "w") as o:
    for line in f:
        p = line.split()
        if not p or p[0] != "REC":
            continue
        ipver, src, dst, sp, dp, pr = int(p[1]), p[2], p[3], int(p[4]), int(p[5]), int(p[6])
        if ver == 5 and ipver != 4:
            continue
        dirs = [p[7:12], p[12:17]]
        for d, (pk, by, first, last, icmp) in enumerate(dirs):
            if int(pk) == 0:
                continue
            s, t, a, b = (src, dst, sp, dp) if d == 0 else (dst, src, dp, sp)
            if pr in (1, 58):
                a = b = 0
            if times:
                o.write(f"{s} {t} {a} {b} {pr} {first} {max(int(first), int(last))}\n")
            else:
                o.write(f"{s} {t} {a} {b} {pr} {pk} {by}\n")
EOF
}

# nfcapd_times OUT: "SRC DST SPORT DPORT PROTO FIRST_MS LAST_MS" from nfcapd's files.
nfcapd_times() {
    # %ts/%te (UTC), not %tsr/%ter: nfdump 1.7.1 prints wrong milliseconds in %ter.
    TZ=UTC nfdump -R "$NFCAPD_DIR/data" -q -N -6 -o "fmt:%sa|%da|%sp|%dp|%pr|%ts|%te" \
        2>/dev/null | "$FP_PY" -c '
import calendar, datetime, ipaddress, sys
def ms(t):
    d = datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f")
    return calendar.timegm(d.timetuple()) * 1000 + d.microsecond // 1000
for line in sys.stdin:
    f = [x.strip() for x in line.split("|")]
    if len(f) < 7:
        continue
    try:
        s, d = ipaddress.ip_address(f[0]), ipaddress.ip_address(f[1])
    except ValueError:
        continue
    pr = int(f[4])
    sp, dp = (0, 0) if pr in (1, 58) else (int(f[2]), int(f[3]))
    ts, te = ms(f[5]), ms(f[6])
    print(s, d, sp, dp, pr, ts, te)
' | sort -u > "$1"
}

run_version() {
    local ver=$1 list=$FP_TMP/list$1 exp=$FP_TMP/expected$1 t
    fp_log "NetFlow v$ver: $N_RECS biflow records"

    # --- nfcapd, with tshark watching its port
    if ! fp_nfcapd_start || ! fp_tshark_start udp "$NFCAPD_PORT"; then
        fp_fail "v$ver: nfcapd or tshark did not start"
        fails=$((fails + 1))
        return
    fi
    sleep 1 # "Capturing on" is printed before dumpcap really captures
    if ! "$NF_SEND" -V "$ver" -p "$NFCAPD_PORT" -n "$N_RECS" -l "$list" -g 500 \
        > "$FP_TMP/stats$ver-nfcapd" 2> "$FP_TMP/send$ver.err"; then
        fp_fail "v$ver: nf_send to nfcapd failed: $(cat "$FP_TMP/send$ver.err")"
        fails=$((fails + 1))
    fi
    expected "$list" "$ver" "$exp"
    sleep 0.5
    if fp_tshark_check; then
        fp_pass "v$ver: tshark decodes every packet, nothing malformed"
    else
        fp_fail "v$ver: tshark found malformed NetFlow v$ver (or none)"
        fails=$((fails + 1))
    fi
    # tshark must read every record (it stops at the header Count): its packet and octet
    # sums and its record count must equal the expected flows and the encoder's records.
    t=$(tshark -r "$TSHARK_FILE" -d "udp.port==$TSHARK_PORT,cflow" -T fields -E occurrence=a \
        -E aggregator=' ' -e cflow.packets -e cflow.octets 2>/dev/null | "$FP_PY" -c '
import sys
n = p = b = 0
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) < 2 or not f[0].strip():
        continue
    pk, oc = f[0].split(), f[1].split()
    n += len(pk)
    p += sum(map(int, pk))
    b += sum(map(int, oc))
print(n, p, b)')
    local want
    want="$(awk '/^records /{print $2}' "$FP_TMP/stats$ver-nfcapd") $("$FP_PY" -c '
import sys
r = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(sum(int(x[5]) for x in r), sum(int(x[6]) for x in r))' "$exp")"
    if [ "$t" = "$want" ]; then
        fp_pass "v$ver: tshark reads every record: $t (records packets octets)"
    else
        fp_fail "v$ver: tshark records/packets/octets '$t', expected '$want'"
        fails=$((fails + 1))
    fi
    # Stop nfcapd after its last packet: SIGTERM makes it write the file.
    fp_nfcapd_stop "$FP_TMP/nfcapd$ver.lines"
    if fp_compare "$exp" "$FP_TMP/nfcapd$ver.lines" "v$ver nfcapd" >&2; then
        fp_pass "v$ver: nfcapd records equal the driver's flows (packets, bytes per 5-tuple)"
    else
        fp_fail "v$ver: nfcapd records differ from the driver's flows"
        fails=$((fails + 1))
    fi
    # nfcapd checks the sequence numbers (v9: +1 per packet; v5: +records per packet)
    t=$(nfdump -R "$NFCAPD_DIR/data" -I 2>/dev/null | awk '/^Sequence failures:/ {print $3}')
    if [ "$t" = 0 ]; then
        fp_pass "v$ver: nfcapd saw no sequence failure"
    else
        fp_fail "v$ver: nfcapd sequence failures: '${t:-none reported}'"
        fails=$((fails + 1))
    fi
    expected "$list" "$ver" "$FP_TMP/times$ver.exp" times
    sort -u "$FP_TMP/times$ver.exp" -o "$FP_TMP/times$ver.exp"
    nfcapd_times "$FP_TMP/times$ver.got"
    if [ -s "$FP_TMP/times$ver.exp" ] && diff "$FP_TMP/times$ver.exp" "$FP_TMP/times$ver.got" \
        > "$FP_TMP/times$ver.diff"; then
        fp_pass "v$ver: nfcapd first/last times equal the driver's to the millisecond (year 2015)"
    else
        fp_log "v$ver: time differences (< expected, > nfcapd):"
        head -10 "$FP_TMP/times$ver.diff" >&2
        fp_fail "v$ver: nfcapd first/last times differ"
        fails=$((fails + 1))
    fi

    # --- nfacctd (print plugin, aggregated per 5-tuple)
    fp_nfacctd_start || { fp_fail "v$ver: nfacctd did not start"; fails=$((fails + 1)); return; }
    if ! "$NF_SEND" -V "$ver" -p "$NFACCTD_PORT" -n "$N_RECS" -g 500 \
        > "$FP_TMP/stats$ver-nfacctd" 2> "$FP_TMP/send$ver.err"; then
        fp_fail "v$ver: nf_send to nfacctd failed: $(cat "$FP_TMP/send$ver.err")"
        fails=$((fails + 1))
    fi
    fp_nfacctd_stop "$FP_TMP/nfacctd$ver.lines"
    if fp_compare "$exp" "$FP_TMP/nfacctd$ver.lines" "v$ver nfacctd" >&2; then
        fp_pass "v$ver: nfacctd records equal the driver's flows (packets, bytes per 5-tuple)"
    else
        fp_fail "v$ver: nfacctd records differ from the driver's flows"
        fails=$((fails + 1))
    fi

    # --- the encoder's own counters against the list (v5: IPv6 skipped, splits made)
    if ! "$FP_PY" - "$list" "$ver" "$FP_TMP/stats$ver-nfcapd" <<'EOF' >&2; then
import sys
lst, ver, stats = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = dict((l.split()[0], int(l.split()[1])) for l in open(stats) if l.strip())
v6 = recs = splits = 0
M = 2**32 - 1
for line in open(lst):
    p = line.split()
    for pk, by in ((int(p[7]), int(p[8])), (int(p[12]), int(p[13]))):
        if pk == 0:
            continue
        if p[1] == "6" and ver == 5:
            v6 += 1
            continue
        k = max(1, -(-pk // M), -(-by // M)) if ver == 5 else 1
        recs += k
        splits += k - 1
want = {"records": recs, "v5_skipped_ipv6": v6, "v5_splits": splits, "send_errors": 0}
bad = {k: (v, st.get(k)) for k, v in want.items() if st.get(k) != v}
print(f"v{ver} encoder counters: want {want}" + (f", MISMATCH {bad}" if bad else ", ok"))
sys.exit(1 if bad else 0)
EOF
        fp_fail "v$ver: encoder counters (records, v5 skipped IPv6, v5 splits) are wrong"
        fails=$((fails + 1))
    else
        fp_pass "v$ver: encoder counters match the list (records, IPv6 skipped, splits)"
    fi
}

run_version 9
run_version 5

if [ "$fails" -ne 0 ]; then
    fp_fail "$fails check(s) failed"
    exit 1
fi
fp_pass "all NetFlow v9/v5 checks"
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SNMP against the real daemon: build/flowpulse replays a known capture (the generated `mix`
# plus three lone packets an hour apart, paced so that each silence keeps the daemon alive
# for a few seconds) with the AgentX subagent on, towards a private snmpd (AgentX master on
# a unix socket in the temp dir, agent on a free UDP port of 127.0.0.1) and a UDP IPFIX sink.
# In the silence after the first lone packet every mix flow has expired and been exported,
# so the counters are final; there:
#   - snmpwalk FLOWPULSE-MIB and IPFIX-MIB;
#   - packets received / metered / not metered by reason = tests/tools/truth.py on the
#     capture prefix the daemon has read (mix + first lone packet);
#   - flows created and ended by reason (per-worker sums), metering data records, collector
#     records/messages/octets/template records, transport session stats, the template table,
#     template stats and every template definition = what the sink received, decoded here
#     from the raw messages (and the template IDs cross-checked with ipfixDump);
#   - metering timeouts, template refresh, session address/port = the settings given;
# then snmpd is killed and restarted: the subagent must be back within 10 s.
# Never touches /var/lib/snmp or the system snmpd configuration.
. "$(dirname "$0")/lib.sh"
fp_lib_init snmp-daemon
fp_need snmpd snmpget snmpwalk snmpbulkwalk "$FP_PY"
fp_need_flowpulse
rc=0
ok() { fp_pass "$1"; }
ko() { fp_fail "$1"; rc=1; }

# --- capture: mix + lone packets at +1 h (with 8 non-IP fillers), +2 h, +3 h --------------------
fp_gen_mix "$FP_TMP/mix.pcap" || { fp_skip "cannot generate the mix capture"; exit 0; }
"$FP_PY" - "$FP_TMP/mix.pcap" "$FP_TMP/cap.pcap" "$FP_TMP/prefix.pcap" <<'PY' || exit 1
import struct, sys
src, out_full, out_prefix = sys.argv[1:4]
data = open(src, "rb").read()
if data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    sys.exit("little-endian pcap expected")
off, last = 24, 0
while off + 16 <= len(data):
    sec, _frac, cap, _orig = struct.unpack("<IIII", data[off:off + 16])
    last = max(last, sec)
    off += 16 + cap

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def rec(i):  # Ethernet/IPv4/UDP 10.250.0.1:4000i -> 10.250.0.2:9, i hours after the mix
    pl = b"flowpulse-snmp-e2e-%d" % i
    udp = struct.pack("!HHHH", 40000 + i, 9, 8 + len(pl), 0) + pl
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     bytes([10, 250, 0, 1]), bytes([10, 250, 0, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    f = bytes.fromhex("020000000002020000000001" "0800") + ip + udp
    return struct.pack("<IIII", last + 3600 * i, 0, len(f), len(f)) + f

def filler(i):  # not IP (local experimental EtherType): not metered, no flow
    f = bytes.fromhex("020000000002020000000001" "88b5") + b"filler %d" % i + bytes(40)
    return struct.pack("<IIII", last + 3600, 0, len(f), len(f)) + f

# The fillers follow the first lone packet at the same time: they push it (and every earlier
# packet) through the worker's pipeline before the silence; they carry no flow themselves.
fill = b"".join(filler(i) for i in range(8))
open(out_prefix, "wb").write(data + rec(1) + fill)
open(out_full, "wb").write(data + rec(1) + fill + rec(2) + rec(3))
PY
fp_truth "$FP_TMP/prefix.pcap" "$FP_TMP/prefix.truth"

# --- private snmpd -----------------------------------------------------------------------------
mkdir -p "$FP_TMP/conf" "$FP_TMP/state" "$FP_TMP/toolconf"
export SNMP_PERSISTENT_DIR=$FP_TMP/state SNMPCONFPATH=$FP_TMP/toolconf MIBS=
PORT=$(fp_free_port udp)
SOCK=$FP_TMP/agentx.sock
AGENT=127.0.0.1:$PORT
cat > "$FP_TMP/conf/snmpd.conf" <<CONF
master agentx
agentXSocket unix:$SOCK
agentXPerms 0660 0770
rocommunity public 127.0.0.1
agentaddress udp:127.0.0.1:$PORT
CONF
SNMP=(-v2c -c public -t 0.5 -r 2)
PEN=32473
R=.1.3.6.1.4.1.$PEN.1.1
get1() { snmpget "${SNMP[@]}" -Oqv "$AGENT" "$1" 2>/dev/null; }

# --- IPFIX sink: every datagram with its arrival time ------------------------------------------
SINK_PORT=$(fp_free_port udp)
"$FP_PY" - "$SINK_PORT" "$FP_TMP/sink.bin" <<'PY' > /dev/null 2>&1 &
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "wb") as f:
    while True:
        d = s.recv(65535)
        f.write(struct.pack("<QI", int(time.time() * 1000), len(d)) + d)
        f.flush()
PY
SINK_PID=$!
FP_PIDS+=("$SINK_PID")
fp_wait_listen udp "$SINK_PORT" || { ko "IPFIX sink did not start"; exit 1; }
sink_size() { stat -c %s "$FP_TMP/sink.bin" 2>/dev/null || echo 0; }

fp_snmpd_start "$PORT" || { ko "snmpd did not start"; exit 1; }

# --- the daemon --------------------------------------------------------------------------------
# pace 0.5: the mix (1.5 s of capture) takes 3 s, each lone packet comes 10 s after the one
# before (silences are cut to 5 s of capture time); burst 1: nothing is read ahead of the pace.
IDLE=20
ACTIVE=90
REFRESH=120
timeout -k 5 60 "$FP_BUILD/flowpulse" -r "$FP_TMP/cap.pcap" \
    -o capture.progress=false -o capture.pace=0.5 -o capture.burst=1 \
    -o snmp.enabled=true -o snmp.agentx_socket="unix:$SOCK" -o snmp.refresh=0.2 \
    -o control.socket="$FP_TMP/control.sock" \
    -o flow.idle_timeout=$IDLE -o flow.active_timeout=$ACTIVE \
    -o export.template_refresh=$REFRESH -o export.stats_interval=3600 \
    -e "udp://127.0.0.1:$SINK_PORT" > "$FP_TMP/flowpulse.log" 2>&1 &
FP_PID=$!
FP_PIDS+=("$FP_PID")

N_WINDOW=$(sed -n 's/^# packets //p' "$FP_TMP/prefix.truth") # mix + the first lone packet
# Wait for the first lone packet (the subagent registers when the daemon starts).
t0=$SECONDS
seen=
while [ $((SECONDS - t0)) -lt 25 ] && kill -0 "$FP_PID" 2>/dev/null; do
    seen=$(get1 "$R.1.4.0")
    [ "$seen" = "$N_WINDOW" ] && break
    sleep 0.2
done
if [ "$seen" != "$N_WINDOW" ]; then
    ko "fpPacketsReceived never reached $N_WINDOW (last: ${seen:-no answer})"
    tail -5 "$FP_TMP/flowpulse.log" >&2
    exit 1
fi
ok "subagent of the daemon answers; fpPacketsReceived reached $N_WINDOW after $((SECONDS - t0)) s"

# Let the exporter flush the expired flows (flush interval 1 s) and the sink read them.
prev=-1
for ((i = 0; i < 20; i++)); do
    sleep 0.3
    cur=$(sink_size)
    [ "$cur" = "$prev" ] && [ "$i" -ge 4 ] && break
    prev=$cur
done
size_before=$(sink_size)
WALK=(-On -Oe -Ot -Ox -Oq)
snmpbulkwalk "${SNMP[@]}" "${WALK[@]}" "$AGENT" ".1.3.6.1.4.1.$PEN" > "$FP_TMP/walk-fp.txt" 2>&1
snmpbulkwalk "${SNMP[@]}" "${WALK[@]}" "$AGENT" .1.3.6.1.2.1.193 > "$FP_TMP/walk-ipfix.txt" 2>&1
# The same counters through the control socket (fpClassifyCounterTable is compared with them).
"$FP_BUILD/flowpulsectl" -s "$FP_TMP/control.sock" stats > "$FP_TMP/stats.json" 2>&1
after=$(get1 "$R.1.4.0")
size_after=$(sink_size)
cp "$FP_TMP/sink.bin" "$FP_TMP/sink-at-walk.bin"
if [ "$after" != "$N_WINDOW" ] || [ "$size_before" != "$size_after" ]; then
    ko "walk not inside the quiet window (packets $after, sink $size_before -> $size_after bytes)"
    exit 1
fi
ok "walked $(grep -c '^\.' "$FP_TMP/walk-fp.txt") + $(grep -c '^\.' "$FP_TMP/walk-ipfix.txt") objects in the quiet window"

# --- compare -----------------------------------------------------------------------------------
"$FP_PY" - "$FP_ROOT" "$FP_TMP" "$PEN" "$SINK_PORT" "$IDLE" "$ACTIVE" "$REFRESH" \
    > "$FP_TMP/check.log" 2>&1 <<'PY'
import collections, datetime, struct, sys

root, tmp, pen, sink_port, idle, active, refresh = sys.argv[1:8]
sink_port, idle, active, refresh = int(sink_port), int(idle), int(active), int(refresh)
R = f".1.3.6.1.4.1.{pen}.1.1"
M = ".1.3.6.1.2.1.193"
problems, checked = [], [0]


def check(what, got, want):
    checked[0] += 1
    if got != want:
        problems.append(f"{what}: SNMP {got!r}, expected {want!r}")


def parse_walk(path):
    got, cur = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("."):
            cur, _, v = line.partition(" ")
            got[cur] = v
        elif cur is not None:
            got[cur] += " " + line
    out = {}
    for oid, v in got.items():
        v = v.strip()
        if v.startswith('"'):
            out[oid] = bytes.fromhex(v.strip('"').replace(" ", ""))
        elif v.startswith("."):
            out[oid] = v
        else:
            out[oid] = int(v)
    return out


w = parse_walk(f"{tmp}/walk-fp.txt")
w.update(parse_walk(f"{tmp}/walk-ipfix.txt"))


def rows(prefix):
    """{index tuple: value} of one column."""
    p = prefix + "."
    return {tuple(int(x) for x in o[len(p):].split(".")): v for o, v in w.items()
            if o.startswith(p)}


# ---- ground truth of the capture prefix the daemon has read
truth = {}
for line in open(f"{tmp}/prefix.truth"):
    if line.startswith("# "):
        parts = line[2:].split()
        truth[" ".join(parts[:-1])] = int(parts[-1])

# ---- the sink: raw IPFIX messages, decoded here (RFC 7011)
raw = open(f"{tmp}/sink-at-walk.bin", "rb").read()
msgs, off = [], 0
while off + 12 <= len(raw):
    t, n = struct.unpack("<QI", raw[off:off + 12])
    msgs.append((t, raw[off + 12:off + 12 + n]))
    off += 12 + n
templates = {}          # (odid, tid) -> dict(set_id, scope, fields[(id, len, pen)])
tmpl_sent = collections.Counter()   # set id -> template records
last_sent = {}          # (odid, tid) -> arrival ms of its last template record
data_count = collections.Counter()  # (odid, tid) -> data records
flow_recs = []          # decoded flow records (dict IE id -> int) of non-options templates
octets = 0


def fields_of(rec, flds):
    vals, p = [], 0
    for ie, ln, en in flds:
        if ln == 65535:
            ln = rec[p]
            p += 1
            if ln == 255:
                ln = struct.unpack("!H", rec[p:p + 2])[0]
                p += 2
        vals.append(((en, ie), rec[p:p + ln]))
        p += ln
    return vals, p


for t, m in msgs:
    octets += len(m)
    ver, mlen, _exp, _seq, odid = struct.unpack("!HHIII", m[:16])
    assert ver == 10 and mlen == len(m), "not an IPFIX message"
    p = 16
    while p + 4 <= mlen:
        sid, slen = struct.unpack("!HH", m[p:p + 4])
        body, q = m[p + 4:p + slen], 0
        if sid in (2, 3):
            while q + 4 <= len(body):
                tid, nf = struct.unpack("!HH", body[q:q + 4])
                if tid < 256:
                    break
                q += 4
                scope = 0
                if sid == 3:
                    scope = struct.unpack("!H", body[q:q + 2])[0]
                    q += 2
                flds = []
                for _ in range(nf):
                    ie, ln = struct.unpack("!HH", body[q:q + 4])
                    q += 4
                    en = 0
                    if ie & 0x8000:
                        en = struct.unpack("!I", body[q:q + 4])[0]
                        q += 4
                    flds.append((ie & 0x7FFF, ln, en))
                templates[(odid, tid)] = {"set": sid, "scope": scope, "fields": flds}
                tmpl_sent[sid] += 1
                last_sent[(odid, tid)] = t
        elif sid >= 256:
            tp = templates[(odid, sid)]
            minlen = sum(1 if ln == 65535 else ln for _, ln, _ in tp["fields"])
            while len(body) - q >= minlen and minlen > 0:
                vals, n = fields_of(body[q:], tp["fields"])
                q += n
                data_count[(odid, sid)] += 1
                if tp["set"] == 2:
                    flow_recs.append({k: int.from_bytes(v, "big") for k, v in vals
                                      if len(v) <= 8})
        p += slen

# ---- packets (truth.py)
check("fpPacketsReceived", w.get(R + ".1.4.0"), truth["packets"])
check("fpPacketsMetered", w.get(R + ".1.5.0"), truth["metered"])
check("fpPacketsNotMetered", w.get(R + ".1.6.0"), truth["packets"] - truth["metered"])
names = rows(R + ".2.1.2")
counts = rows(R + ".2.1.4")
check("fpNotMeteredTable rows", len(counts) > 0, True)
for idx, name in names.items():
    key = "not_metered " + name.decode().lower()
    check(f"fpNotMeteredPackets.{idx[0]} ({name.decode()})", counts.get(idx), truth.get(key, 0))
unknown = [k for k in truth if k.startswith("not_metered ") and
           k[12:].upper().encode() not in names.values()]
check("truth reasons without an fpNotMeteredTable row", unknown, [])
check("ipfixSelectionProcessStatsPacketsObserved", w.get(M + ".1.2.4.1.1.1.1.1"),
      truth["packets"])
check("ipfixSelectionProcessStatsPacketsDropped", w.get(M + ".1.2.4.1.2.1.1.1"),
      truth["packets"] - truth["metered"])

# ---- flows (the sink's records: one flowId per flow record, both uniflow directions)
by_flow = {}
for r in flow_recs:
    by_flow.setdefault(r[(0, 148)], r)
ended = collections.Counter(r[(0, 136)] for r in by_flow.values())
pk_sum = sum(r[(0, 2)] for r in flow_recs)
check("packets in the sink's flow records = metered mix packets", pk_sum, truth["metered"] - 1)
wk = lambda col: sum(rows(R + f".4.1.{col}").values())
check("workers: sum fpWorkerPackets", wk(2), truth["metered"])
check("workers: sum fpWorkerFlowsActive (the lone packet's flow)", wk(3), 1)
check("workers: sum fpWorkerFlowsCreated = flowIds received + 1 active", wk(4), len(by_flow) + 1)
for col, reason, label in ((5, 1, "idle"), (6, 2, "active"), (7, 3, "end"), (8, 4, "forced"),
                           (9, 5, "resource")):
    check(f"workers: sum expired {label} = flowEndReason {reason} records", wk(col),
          ended.get(reason, 0))
check("ipfixMeteringProcessDataRecords = flowIds received", w.get(M + ".1.2.3.1.3.1"),
      len(by_flow))
check("ipfixMeteringProcessCacheActiveFlows", w.get(M + ".1.2.3.1.1.1"), 1)
check("ipfixMeteringProcessCacheActiveTimeout", w.get(M + ".1.1.5.1.3.1"), active)
check("ipfixMeteringProcessCacheIdleTimeout", w.get(M + ".1.1.5.1.4.1"), idle)

# ---- collector / transport session 1
n_flow_recs = len(flow_recs)
check("fpCollectorState.1 (up)", w.get(R + ".5.1.8.1"), 3)
check("fpCollectorPort.1", w.get(R + ".5.1.7.1"), sink_port)
check("fpCollectorRecords.1 = flow records received", w.get(R + ".5.1.9.1"), n_flow_recs)
check("fpCollectorMessages.1 = datagrams received", w.get(R + ".5.1.10.1"), len(msgs))
check("fpCollectorOctets.1 = octets received", w.get(R + ".5.1.11.1"), octets)
check("fpCollectorRecordsNotSent.1", w.get(R + ".5.1.12.1"), 0)
check("fpCollectorTemplateSends.1 = template records received", w.get(R + ".5.1.14.1"),
      tmpl_sent[2] + tmpl_sent[3])
S = M + ".1.1.1.1"
check("ipfixTransportSessionProtocol.1 (udp)", w.get(S + ".2.1"), 17)
check("ipfixTransportSessionDestinationAddressType.1", w.get(S + ".5.1"), 1)
check("ipfixTransportSessionDestinationAddress.1", w.get(S + ".6.1"), bytes([127, 0, 0, 1]))
check("ipfixTransportSessionDestinationPort.1", w.get(S + ".8.1"), sink_port)
check("ipfixTransportSessionTemplateRefreshTimeout.1", w.get(S + ".11.1"), refresh)
check("ipfixTransportSessionIpfixVersion.1", w.get(S + ".15.1"), 10)
check("ipfixTransportSessionStatus.1 (active)", w.get(S + ".16.1"), 2)
T = M + ".1.2.1.1"
check("ipfixTransportSessionPackets.1", w.get(T + ".2.1"), len(msgs))
check("ipfixTransportSessionBytes.1", w.get(T + ".3.1"), octets)
check("ipfixTransportSessionMessages.1", w.get(T + ".4.1"), len(msgs))
check("ipfixTransportSessionDiscardedMessages.1", w.get(T + ".5.1"), 0)
check("ipfixTransportSessionRecords.1", w.get(T + ".6.1"), n_flow_recs)
check("ipfixTransportSessionTemplates.1", w.get(T + ".7.1"), tmpl_sent[2])
check("ipfixTransportSessionOptionsTemplates.1", w.get(T + ".8.1"), tmpl_sent[3])

# ---- templates: table, stats, definitions = what the sink received
set_ids = rows(M + ".1.1.2.1.3")
check("ipfixTemplateTable rows (session, odid, tid)", sorted(set_ids),
      sorted((1,) + k for k in templates))
for (odid, tid), tp in sorted(templates.items()):
    idx = (1, odid, tid)
    ix = ".".join(map(str, idx))
    check(f"ipfixTemplateSetId.{ix}", set_ids.get(idx), tp["set"])
    check(f"ipfixTemplateDataRecords.{ix}", w.get(f"{M}.1.2.2.1.1.{ix}"),
          data_count[(odid, tid)])
    at = w.get(f"{M}.1.1.2.1.4.{ix}")
    ok_at = isinstance(at, bytes) and len(at) == 11
    if ok_at:
        y, mo, d, h, mi, s, ds = struct.unpack("!HBBBBBB", at[:8])
        ms = int(datetime.datetime(y, mo, d, h, mi, s, ds * 100000,
                                   datetime.timezone.utc).timestamp() * 1000)
        ok_at = abs(ms - last_sent[(odid, tid)]) <= 1500
    check(f"ipfixTemplateAccessTime.{ix} ~ arrival of its last template record", ok_at, True)
    want, got = [], []
    defs = {c: rows(f"{M}.1.1.3.1.{c}") for c in (2, 3, 4, 5)}
    for i, (ie, ln, en) in enumerate(tp["fields"], 1):
        scope = i <= tp["scope"]
        key = tp["set"] == 2 and en == 0 and ie in (4, 7, 8, 11, 12, 27, 28, 58)
        want.append((ie, ln, en, bytes([(0x80 if scope else 0) | (0x40 if key else 0)])))
    for i in range(1, len(tp["fields"]) + 2):
        k = idx + (i,)
        if k in defs[2]:
            got.append((defs[2][k], defs[3].get(k), defs[4].get(k), defs[5].get(k)))
    check(f"ipfixTemplateDefinitionTable {ix} ({len(want)} fields)", got, want)

# ---- classification counters: one row per FP_CLASSIFY_COUNTERS entry (name and description
# read from the header here), values = the control socket's stats of the same window
import json, re
hdr = open(f"{root}/src/classify/classify_engine.h", encoding="utf-8").read()
blk = hdr[hdr.index("#define FP_CLASSIFY_COUNTERS(X)"):]
blk = blk[:blk.index("/** Counter block")]
xmacro = re.findall(r'X\((\w+),\s*"([^"]*)"\)', blk)
check("FP_CLASSIFY_COUNTERS read from the header", len(xmacro) >= 10, True)
try:
    cls = json.loads(open(f"{tmp}/stats.json").readline())["classify"]
except (ValueError, KeyError) as e:
    cls = {}
    problems.append(f"flowpulsectl stats: no classify object ({e})")
check("stats classify enabled", cls.get("enabled"), True)
c_name, c_descr, c_val = rows(R + ".7.1.2"), rows(R + ".7.1.3"), rows(R + ".7.1.4")
check("fpClassifyCounterTable indexes", sorted(c_val), [(i,) for i in range(1, len(xmacro) + 1)])
for i, (name, desc) in enumerate(xmacro, 1):
    check(f"fpClassifyCounterName.{i}", c_name.get((i,)), name.encode())
    check(f"fpClassifyCounterDescr.{i}", c_descr.get((i,)), desc.encode())
    check(f"fpClassifyCounterValue.{i} ({name}) = stats classify.{name}", c_val.get((i,)),
          cls.get(name))
cv = {n: c_val.get((i,), -1) for i, (n, _) in enumerate(xmacro, 1)}
check("classify flows = sum fpWorkerFlowsCreated", cv.get("flows"), wk(4))
check("classify inspected > 0", cv.get("inspected", 0) > 0, True)
# every mix flow has ended (exported): each was decided once; the lone packet's flow is the
# only one that may still be undecided
decided = sum(cv.get(n, 0) for n in ("by_rule", "by_dpi", "by_sni", "by_host", "by_dns",
                                     "by_port", "unknown"))
check("classify decided = flowIds received (+ the active flow, if decided)",
      decided in (len(by_flow), len(by_flow) + 1), True)

print(f"{checked[0]} values checked; {len(templates)} templates, {len(by_flow)} flows, "
      f"{n_flow_recs} flow records, {len(msgs)} messages")
for p in problems:
    print("MISMATCH", p)
sys.exit(1 if problems else 0)
PY
if [ $? -eq 0 ]; then
    ok "snmpwalk = truth.py + the sink's IPFIX ($(tail -1 "$FP_TMP/check.log"))"
else
    grep MISMATCH "$FP_TMP/check.log" | head -40 >&2
    grep -v MISMATCH "$FP_TMP/check.log" | tail -20 >&2
    ko "snmpwalk values differ from the capture and the collector ($(grep -c MISMATCH "$FP_TMP/check.log") mismatches)"
fi

# The template IDs the sink received, as ipfixDump decodes them.
if command -v ipfixDump > /dev/null; then
    "$FP_PY" -c '
import struct, sys
raw = open(sys.argv[1], "rb").read(); off = 0
with open(sys.argv[2], "wb") as f:
    while off + 12 <= len(raw):
        t, n = struct.unpack("<QI", raw[off:off + 12]); f.write(raw[off + 12:off + 12 + n]); off += 12 + n
' "$FP_TMP/sink-at-walk.bin" "$FP_TMP/stream.ipfix"
    elem=()
    [ -f "$FP_ROOT/ie-defs/flowpulse.xml" ] && elem=(--element-file "$FP_ROOT/ie-defs/flowpulse.xml")
    ipfixDump --rfc5610 "${elem[@]}" --in "$FP_TMP/stream.ipfix" --out "$FP_TMP/dump.txt" \
        2> "$FP_TMP/ipfixdump.err"
    dump_t=$(grep -oE 'tid: *[0-9]+' "$FP_TMP/dump.txt" | grep -oE '[0-9]+' | sort -un | tr '\n' ' ')
    snmp_t=$(grep -oE '^\.1\.3\.6\.1\.2\.1\.193\.1\.1\.2\.1\.3\.1\.[0-9]+\.[0-9]+' \
        "$FP_TMP/walk-ipfix.txt" | awk -F. '{ print $NF }' | sort -un | tr '\n' ' ')
    if [ -n "$snmp_t" ] && [ "$dump_t" = "$snmp_t" ]; then
        ok "ipfixTemplateTable IDs = ipfixDump's templates: $snmp_t"
    else
        ko "ipfixTemplateTable IDs '$snmp_t', ipfixDump saw '$dump_t'"
    fi
fi

# --- snmpd killed and restarted -----------------------------------------------------------------
fp_snmpd_stop
sleep 0.5
if kill -0 "$FP_PID" 2>/dev/null; then ok "daemon survives snmpd exit"
else ko "daemon gone after snmpd exit"; fi
fp_snmpd_start "$PORT" || ko "snmpd did not restart"
t0=$SECONDS
back=
for ((i = 0; i < 40; i++)); do
    v=$(get1 "$R.1.4.0")
    if [ -n "$v" ] && ! echo "$v" | grep -q 'No Such'; then back=$v; break; fi
    sleep 0.25
done
if [ -n "$back" ]; then
    ok "subagent back $((SECONDS - t0)) s after snmpd restart (fpPacketsReceived $back)"
else
    ko "subagent not back 10 s after snmpd restart"
fi
if ! kill -0 "$FP_PID" 2>/dev/null; then
    ko "the daemon ended before the restart check was over (window too short)"
fi

# --- the daemon ends normally at the end of the capture ------------------------------------------
fp_wait_pid "$FP_PID" 30
st=$?
fp_forget_pid "$FP_PID"
if [ $st -eq 0 ]; then ok "flowpulse exited 0 at the end of the capture"
else ko "flowpulse exit status $st"; tail -5 "$FP_TMP/flowpulse.log" >&2; fi
fp_snmpd_stop
exit $rc

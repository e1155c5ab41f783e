#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Control socket and flowpulsectl against a running daemon.
#
# The `mix` capture gets one extra packet 100 s after its end. With capture.pace the daemon
# replays the mix, then waits (capture.pace_max_gap=600 cuts the silence to 600 s of capture time)
# before that last packet: in this window every mix flow is in the cache and nothing
# changes, so each query is compared with the flows computed independently from the
# capture (tests/tools/truth.py's decoder, orientation by the first packet, timestamps read
# here). Two workers, so the distributor (not a worker) waits for the pace and the workers
# keep answering queries. app=/class=/qoe< are checked against the daemon's own unfiltered
# listing (classification and QoE are not recomputed here).
. "$(dirname "$0")/lib.sh"
fp_lib_init control
fp_need_flowpulse
CTL=$FP_BUILD/flowpulsectl
fp_need "$CTL"

FAILS=0
fail() { fp_fail "$1"; FAILS=$((FAILS + 1)); }

CAP=$FP_TMP/mix-tail.pcap
EXP=$FP_TMP/expected.json
SOCK=$FP_TMP/run/ctl.sock
HELPER=$FP_TMP/ctl_check.py

cat > "$HELPER" <<'EOF'
import collections, ipaddress, json, os, struct, sys
sys.path.insert(0, os.path.dirname(os.environ["FP_TRUTH"]))
import truth

def prep(base, out, exp):
    """Append the sentinel packet; write the expected flows of the mix part."""
    d = bytearray(open(base, "rb").read())
    if d[:4] != b"\xd4\xc3\xb2\xa1":
        sys.exit("expected a little-endian microsecond pcap")
    off, stamps = 24, []
    while off + 16 <= len(d):
        s, us, cl, _ol = struct.unpack_from("<IIII", d, off)
        stamps.append((s * 1000000 + us) * 1000)
        off += 16 + cl
    udp = struct.pack(">HHHH", 9999, 9999, 12, 0) + b"ping"
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2]))
    fr = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp
    fr += b"\0" * (60 - len(fr))
    last_s, last_us = divmod(stamps[-1] // 1000, 1000000)
    d += struct.pack("<IIII", last_s + 100, last_us, len(fr), len(fr)) + fr
    open(out, "wb").write(d)

    dec = truth.Decoder()
    frag_ports, flows = {}, collections.OrderedDict()
    for (link, data), ts in zip(truth.read_capture(base), stamps):
        trunc = dec.notes["l4_trunc"]
        try:
            m = dec.frame(truth.LINKTYPES.get(link), memoryview(data))
        except (truth.Bad, struct.error, IndexError):
            continue
        # TCP/UDP packet without its L4 header (later fragment, truncated header)
        no_l4 = m.proto in (6, 17) and (m.later_frag or dec.notes["l4_trunc"] != trunc)
        fkey = (m.src, m.dst, m.proto, m.frag_id)
        if m.first_frag:
            frag_ports[fkey] = (m.sport, m.dport)
        elif m.later_frag and fkey in frag_ports:
            m.sport, m.dport = frag_ports[fkey]
        a, b = (bytes(m.src), m.sport), (bytes(m.dst), m.dport)
        key = (min(a, b), max(a, b), m.proto)
        f = flows.get(key)
        if f is None:   # the first packet's source is the initiator
            f = flows[key] = {"src": truth.fmt_addr(m.src), "dst": truth.fmt_addr(m.dst),
                              "sport": m.sport, "dport": m.dport, "proto": m.proto,
                              "srcb": a, "packets": [0, 0], "bytes": [0, 0],
                              "first_ns": ts, "last_ns": ts, "first_no_l4": no_l4}
        i = 0 if a == f["srcb"] else 1
        f["packets"][i] += 1
        f["bytes"][i] += m.ip_bytes
        f["last_ns"] = ts
    out_flows = []
    for f in flows.values():
        del f["srcb"]
        out_flows.append(f)
    json.dump({"clock_ns": stamps[-1], "frames": len(stamps), "flows": out_flows},
              open(exp, "w"))

def key(f):
    return (f["src"], f["dst"], f["sport"], f["dport"], f["proto"])

def classify_names(header):
    """Counter names of the FP_CLASSIFY_COUNTERS X-macro, read from the header."""
    import re
    lines = open(header).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("#define FP_CLASSIFY_COUNTERS(X)"))
    names = []
    for l in lines[start + 1:]:
        m = re.match(r'\s*X\((\w+),', l)
        if m:
            names.append(m.group(1))
        if not l.rstrip().endswith("\\"):
            break
    if len(names) < 10:
        raise SystemExit("cannot read FP_CLASSIFY_COUNTERS from " + header)
    return names

METHODS = ("by_rule", "by_dpi", "by_sni", "by_host", "by_dns", "by_port", "unknown")

def classify(header, exp_path, stats_path):
    """stats "classify" (every flow of the capture is in the cache, none ended) against the
    header's counter list and the capture's flows."""
    names = classify_names(header)
    exp = json.load(open(exp_path))["flows"]
    st = json.loads(open(stats_path).readline())
    c = st.get("classify")
    problems = []
    if not isinstance(c, dict) or c.get("enabled") is not True:
        raise SystemExit("no classify object with enabled true: %r" % (c,))
    missing = [n for n in names if not isinstance(c.get(n), int)]
    extra = sorted(set(c) - set(names) - {"enabled", "contexts_in_use"})
    if missing:
        problems.append("counters missing: %s" % missing)
    if extra:
        problems.append("unexpected members: %s" % extra)
    if missing:
        raise SystemExit("; ".join(problems))
    created = sum(w["flow"]["created"] for w in st["workers"])
    no_l4 = sum(1 for f in exp if f["first_no_l4"])
    decided = sum(c[n] for n in METHODS)
    facts = (("flows = flows in the capture", c["flows"], len(exp)),
             ("flows = flows created (workers)", c["flows"], created),
             ("not_inspected_no_l4 = flows starting without L4", c["not_inspected_no_l4"], no_l4),
             ("not_inspected_pool_empty = 0 (8192 contexts)", c["not_inspected_pool_empty"], 0),
             ("inspected + not inspected = flows", c["inspected"] + c["not_inspected_no_l4"] +
              c["not_inspected_pool_empty"], c["flows"]),
             ("contexts_in_use + ctx_released = inspected",
              c["contexts_in_use"] + c["ctx_released"], c["inspected"]))
    for label, got, want in facts:
        if got != want:
            problems.append("%s: %d != %d" % (label, got, want))
    if not 0 < c["inspected"] <= created:
        problems.append("inspected %d not in 1..%d" % (c["inspected"], created))
    if decided > c["flows"]:
        problems.append("decided %d > flows %d" % (decided, c["flows"]))
    if c["dpi_packets"] == 0:
        problems.append("no packet given to nDPI")
    print("%d counters; flows %d (capture %d), inspected %d, no L4 %d, decided %d" %
          (len(names), c["flows"], len(exp), c["inspected"], c["not_inspected_no_l4"], decided))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)

def classify_log(exp_path, stats_path, log_path):
    """The exit line: every flow decided once; counters not below the earlier stats."""
    import re
    exp = json.load(open(exp_path))["flows"]
    c = json.loads(open(stats_path).readline())["classify"]
    lines = [l for l in open(log_path) if "main: classification: " in l]
    if len(lines) != 1:
        raise SystemExit("%d classification lines in the log" % len(lines))
    words = {"flows": "flows", "inspected": "inspected", "pool empty": "not_inspected_pool_empty",
             "no L4": "not_inspected_no_l4", "by rule": "by_rule", "dpi": "by_dpi",
             "sni": "by_sni", "host": "by_host", "dns": "by_dns", "port": "by_port",
             "unknown": "unknown", "gave up": "gave_up", "fast path": "fast_path",
             "nDPI packets": "dpi_packets"}
    got = {}
    for w, n in words.items():
        m = re.search(r"[:,;] (?:not inspected: |decided )?%s (\d+)" % w, lines[0])
        if not m:
            raise SystemExit("no '%s N' in: %s" % (w, lines[0].strip()))
        got[n] = int(m.group(1))
    problems = []
    if got["flows"] != len(exp):
        problems.append("flows %d, capture has %d" % (got["flows"], len(exp)))
    if sum(got[n] for n in METHODS) != got["flows"]:
        problems.append("decided %d != flows %d" % (sum(got[n] for n in METHODS), got["flows"]))
    for n, v in got.items():
        if v < c[n]:
            problems.append("%s %d below the stats value %d" % (n, v, c[n]))
    for n in ("flows", "inspected", "not_inspected_no_l4"):
        if got[n] != c[n]:
            problems.append("%s %d != stats %d (no flow started after the window)" % (n, got[n], c[n]))
    print(lines[0].split("main: ", 1)[1].strip())
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)

def load_lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]

def want(flow, filt, clock, daemon):
    """Independent reading of one filter (daemon: the daemon's record, for app/class/qoe)."""
    for op in "=<>":
        if op in filt:
            k, v = filt.split(op, 1)
            break
    if k in ("src", "dst", "host"):
        net = ipaddress.ip_network(v, strict=False)
        addrs = [flow["src"]] if k == "src" else [flow["dst"]] if k == "dst" else \
                [flow["src"], flow["dst"]]
        return any(ipaddress.ip_address(a).version == net.version and
                   ipaddress.ip_address(a) in net for a in addrs)
    if k == "port":
        return int(v) in (flow["sport"], flow["dport"])
    if k in ("sport", "dport"):
        return flow[k] == int(v)
    if k == "proto":
        return flow["proto"] in {"tcp": (6,), "udp": (17,), "icmp": (1, 58)}.get(v, (int(v),) if v.isdigit() else ())
    if k == "age":
        return clock - flow["first_ns"] > float(v) * 1e9
    if k == "idle":
        return clock - flow["last_ns"] < float(v) * 1e9
    if daemon is None:
        raise SystemExit("flow %s missing from the unfiltered listing" % (key(flow),))
    if k == "app":
        return daemon["app"]["name"].lower() == v.lower()
    if k == "class":
        return daemon["app"]["class"] == v
    if k == "qoe":
        return "qoe" in daemon and "score" in daemon["qoe"] and daemon["qoe"]["score"] < int(v)
    raise SystemExit("unknown filter " + filt)

def check(exp_path, all_path, got_path, *filters):
    exp = json.load(open(exp_path))
    daemon = {key(f): f for f in load_lines(all_path)} if all_path != "-" else {}
    expected = {key(f) for f in exp["flows"]
                if all(want(f, x, exp["clock_ns"], daemon.get(key(f))) for x in filters)}
    got = [key(f) for f in load_lines(got_path)]
    problems = []
    if len(got) != len(set(got)):
        problems.append("duplicate flows in the answer")
    for k in sorted(expected - set(got)):
        problems.append("missing %s" % (k,))
    for k in sorted(set(got) - expected):
        problems.append("unexpected %s" % (k,))
    print("%d expected, %d returned" % (len(expected), len(got)))
    for p in problems[:10]:
        print(p)
    sys.exit(1 if problems else 0)

def counters(exp_path, got_path):
    """Every flow of the unfiltered listing has the packets, bytes and times of the truth."""
    exp = {key(f): f for f in json.load(open(exp_path))["flows"]}
    bad = 0
    for g in load_lines(got_path):
        e = exp.get(key(g))
        if e is None:
            continue
        for field, gv, ev in (("packets", g["packets"], e["packets"]),
                              ("bytes", g["bytes"], e["bytes"]),
                              ("first_ms", g["first_ms"], e["first_ns"] // 1000000),
                              ("last_ms", g["last_ms"], e["last_ns"] // 1000000)):
            if gv != ev:
                bad += 1
                if bad <= 10:
                    print("%s %s: got %s, truth %s" % (key(g), field, gv, ev))
    sys.exit(1 if bad else 0)

def top(exp_path, got_path, n):
    """--sort bytes --limit n: the n largest flows by total bytes, in order."""
    exp = sorted((sum(f["bytes"]) for f in json.load(open(exp_path))["flows"]), reverse=True)
    got = [sum(f["bytes"]) for f in load_lines(got_path)]
    ok = got == exp[:int(n)]
    print("top bytes %s, truth %s" % (got, exp[:int(n)]))
    sys.exit(0 if ok else 1)

def field(path, *names):
    o = json.loads(open(path).readline())
    for n in names:
        o = o[n]
    print(o)

def raw(sock, line):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(line.encode() + b"\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    print(data.decode().strip().splitlines()[-1])

{"prep": prep, "check": check, "counters": counters, "top": top, "field": field,
 "raw": raw, "classify": classify, "classify_log": classify_log}[sys.argv[1]](*sys.argv[2:])
EOF
export FP_TRUTH
py() { "$FP_PY" "$HELPER" "$@"; }

fp_gen_mix "$FP_TMP/mix.pcap" || { fail "fpgen failed"; exit 1; }
py prep "$FP_TMP/mix.pcap" "$CAP" "$EXP" || { fail "cannot prepare the capture"; exit 1; }
FRAMES=$("$FP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$EXP")
CLOCK_MS=$("$FP_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["clock_ns"] // 1000000)' "$EXP")

# Unreachable daemon: exit 3 naming the socket.
"$CTL" -s "$SOCK" status > /dev/null 2> "$FP_TMP/unreach.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "$SOCK" "$FP_TMP/unreach.err"; then
    fp_pass "unreachable socket: exit 3 naming the path"
else
    fail "unreachable socket: exit $rc, stderr: $(cat "$FP_TMP/unreach.err")"
fi

# A config file for the reload plumbing.
CONF=$FP_TMP/fp.conf
printf 'flow = {\n    idle_timeout = 600;\n};\n' > "$CONF"

# Started directly (no `timeout` wrapper) so that SIGHUP reaches the daemon itself;
# fp_wait_pid below and the cleanup trap stop it if it hangs.
"$FP_BUILD/flowpulse" -c "$CONF" -r "$CAP" -w 2 -o capture.progress=false \
    -o capture.pace=0.4 -o capture.pace_max_gap=600 -o capture.burst=1 \
    -o "control.socket=$SOCK" -o flow.idle_timeout=600 \
    -o flow.active_timeout=3600 -o flow.tcp_end_timeout=3600 "${FP_SMALL_RUN_OPTS[@]}" \
    > "$FP_TMP/daemon.log" 2>&1 &
DPID=$!
FP_PIDS+=("$DPID")

# Wait until every mix frame was read (the sentinel is then minutes away).
ready=0
for ((i = 0; i < 300; i++)); do
    if "$CTL" -s "$SOCK" status > "$FP_TMP/status.json" 2>/dev/null &&
        [ "$(py field "$FP_TMP/status.json" packets received)" = "$FRAMES" ]; then
        ready=1
        break
    fi
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
done
if [ $ready -ne 1 ]; then
    fail "daemon did not reach the end of the mix: $(tail -5 "$FP_TMP/daemon.log")"
    exit 1
fi
sleep 0.3 # let the workers meter what the distributor handed over

mode=$(stat -c %a "$SOCK")
[ "$mode" = 660 ] && fp_pass "socket mode 0660" || fail "socket mode $mode, expected 660"

for cmd in status stats collectors; do
    if "$CTL" -s "$SOCK" --pretty "$cmd" > "$FP_TMP/$cmd.pretty" 2> "$FP_TMP/$cmd.err" &&
        "$FP_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$FP_TMP/$cmd.pretty"; then
        fp_pass "$cmd: exit 0, valid JSON"
    else
        fail "$cmd: $(cat "$FP_TMP/$cmd.err")"
    fi
done
"$CTL" -s "$SOCK" status > "$FP_TMP/status.json"
if [ "$(py field "$FP_TMP/status.json" mode)" = "capture file" ] &&
    [ "$(py field "$FP_TMP/status.json" workers)" = 2 ] &&
    [ "$(py field "$FP_TMP/status.json" flow_clock_ms)" = "$CLOCK_MS" ]; then
    fp_pass "status: mode, workers, flow clock = last replayed packet"
else
    fail "status: $(cat "$FP_TMP/status.json")"
fi
"$CTL" -s "$SOCK" stats > "$FP_TMP/stats.json"
if [ "$(py field "$FP_TMP/stats.json" packets received)" = "$FRAMES" ]; then
    fp_pass "stats: packets received = frames read"
else
    fail "stats: received $(py field "$FP_TMP/stats.json" packets received), expected $FRAMES"
fi
# Classification counters: every name of the X-macro (read from the header), summed over the
# workers, against the capture's flows (the window: every flow in the cache, none ended).
if py classify "$FP_ROOT/src/classify/classify_engine.h" "$EXP" "$FP_TMP/stats.json" \
    > "$FP_TMP/classify.check"; then
    fp_pass "stats classify: $(head -1 "$FP_TMP/classify.check")"
else
    fail "stats classify: $(tr '\n' ';' < "$FP_TMP/classify.check")"
fi

# The unfiltered listing: every flow, with the truth's counters and times.
ALL=$FP_TMP/all.jsonl
if "$CTL" -s "$SOCK" flows --limit 10000 > "$ALL" 2> "$FP_TMP/all.err" &&
    py check "$EXP" - "$ALL" > "$FP_TMP/all.check"; then
    fp_pass "flows (no filter): $(head -1 "$FP_TMP/all.check")"
else
    fail "flows (no filter): $(cat "$FP_TMP/all.err" "$FP_TMP/all.check")"
fi
if py counters "$EXP" "$ALL" > "$FP_TMP/counters.check"; then
    fp_pass "flows: packets, bytes, first/last per flow equal the capture's"
else
    fail "flows counters: $(head -5 "$FP_TMP/counters.check")"
fi

# Thresholds from the data: the median first/last packet age.
read -r AGE IDLE < <("$FP_PY" - "$EXP" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
c = e["clock_ns"]
firsts = sorted((c - f["first_ns"]) / 1e9 for f in e["flows"])
lasts = sorted((c - f["last_ns"]) / 1e9 for f in e["flows"])
# halfway between two neighbours, so that no flow sits on the boundary
m = len(firsts) // 2
print("%.6f %.6f" % ((firsts[m] + firsts[m + 1]) / 2, (lasts[m] + lasts[m + 1]) / 2))
EOF
)
SPORT=$("$FP_PY" -c 'import json,sys; print([f for f in json.load(open(sys.argv[1]))["flows"] if f["proto"] == 6][3]["sport"])' "$EXP")

# Phase 1: ask every query while the window is open (fast); phase 2 below: compare.
QN=0
QLABELS=()
QARGS=()
query() { # LABEL FILTER...
    local label=$1
    shift
    QN=$((QN + 1))
    QLABELS[$QN]=$label
    QARGS[$QN]="$*"
    "$CTL" -s "$SOCK" flows --limit 10000 "$@" > "$FP_TMP/q$QN.jsonl" 2> "$FP_TMP/q$QN.err"
    echo $? > "$FP_TMP/q$QN.rc"
}
query "src v4 prefix" src=198.18.0.0/24
query "dst v4 prefix" dst=203.0.113.0/28
query "src v6 prefix" src=2001:db8:1::/48
query "host v6 prefix" host=2001:db8:2::/48
query "host v4 address" host=192.0.2.53
query "port" port=53
query "sport" sport="$SPORT"
query "dport" dport=443
query "proto tcp" proto=tcp
query "proto udp" proto=udp
query "proto icmp (v4 and v6)" proto=icmp
query "age" "age>$AGE"
query "idle" "idle<$IDLE"
query "app" app=unknown
query "class" class=unknown
query "class (none)" class=video
query "qoe" "qoe<101"
query "five combined" src=198.18.0.0/16 proto=tcp "idle<$IDLE" "age>0.1" port=443
query "five combined (v6)" host=2001:db8::/32 dport=443 proto=6 "age>0" "idle<600"
"$CTL" -s "$SOCK" flows --limit 5 --sort bytes > "$FP_TMP/top.jsonl" 2> "$FP_TMP/top.err"
TOP_RC=$?

# Malformed queries: exit 2 with a message naming the token.
bad() { # TOKEN-IN-MESSAGE ARGS...
    local want=$1
    shift
    "$CTL" -s "$SOCK" "$@" > "$FP_TMP/bad.out" 2> "$FP_TMP/bad.err"
    local rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "$want" "$FP_TMP/bad.err" && [ ! -s "$FP_TMP/bad.out" ]; then
        fp_pass "malformed '$*': exit 2: $(head -1 "$FP_TMP/bad.err")"
    else
        fail "malformed '$*': exit $rc, stderr: $(cat "$FP_TMP/bad.err")"
    fi
}
bad '"src=10.0.0.0/33"' flows src=10.0.0.0/33
bad '"host=2001:db8::/129"' flows host=2001:db8::/129
bad '"dst=300.1.1.1"' flows dst=300.1.1.1
bad '"port=70000"' flows port=70000
bad '"color=red"' flows color=red
bad '"proto=xyz"' flows proto=xyz
bad '"port=5": too many filters' flows proto=tcp port=1 port=2 port=3 port=4 port=5
bad '--limit' flows --limit 0
bad 'unknown command' frobnicate
# The daemon refuses it too (request sent without flowpulsectl's own check).
line=$(py raw "$SOCK" "flows port=99999")
if [[ $line == '{"ok":false,"error":"\"port=99999\": bad port'*'"usage":true}' ]]; then
    fp_pass "daemon: malformed query answered with a usage error"
else
    fail "daemon: malformed query answered: $line"
fi

# Reload: a valid file is applied (exit 0, the daemon says what it did), an invalid one is
# refused with file:line: setting: problem (exit 1).
"$CTL" -s "$SOCK" reload > "$FP_TMP/reload.out" 2> "$FP_TMP/reload.err"
rc=$?
if [ $rc -eq 0 ] && grep -qi "reload" "$FP_TMP/reload.out"; then
    fp_pass "reload (valid file): $(head -c 300 "$FP_TMP/reload.out")"
else
    fail "reload (valid file): exit $rc: $(cat "$FP_TMP/reload.out" "$FP_TMP/reload.err")"
fi
printf 'flow = {\n    idle_timeout = 600;\n    active_timeout = 0;\n};\n' > "$CONF"
"$CTL" -s "$SOCK" reload > "$FP_TMP/reload.out" 2> "$FP_TMP/reload.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "$CONF:3: flow.active_timeout: " "$FP_TMP/reload.err"; then
    fp_pass "reload (invalid file) refused: $(cat "$FP_TMP/reload.err")"
else
    fail "reload (invalid file): exit $rc: $(cat "$FP_TMP/reload.err")"
fi
kill -HUP "$DPID"
for ((i = 0; i < 30; i++)); do
    grep -q "SIGHUP: reload refused.*$CONF:3: flow.active_timeout" "$FP_TMP/daemon.log" && break
    sleep 0.1
done
if grep -q "SIGHUP: reload refused.*$CONF:3: flow.active_timeout" "$FP_TMP/daemon.log"; then
    fp_pass "SIGHUP: same reload path, result logged"
else
    fail "SIGHUP: no reload log line"
fi

# Still before the sentinel? Otherwise the comparisons above raced with the replay.
"$CTL" -s "$SOCK" status > "$FP_TMP/status2.json"
if [ "$(py field "$FP_TMP/status2.json" packets received)" != "$FRAMES" ]; then
    fail "the last packet arrived while querying (it is 600 s of capture time away)"
fi

# Phase 2: compare the answers with the capture.
for ((q = 1; q <= QN; q++)); do
    label=${QLABELS[$q]}
    if [ "$(cat "$FP_TMP/q$q.rc")" != 0 ]; then
        fail "flows $label: exit $(cat "$FP_TMP/q$q.rc"): $(cat "$FP_TMP/q$q.err")"
        continue
    fi
    # shellcheck disable=SC2086 # the filters were joined with single blanks, none contains one
    if py check "$EXP" "$ALL" "$FP_TMP/q$q.jsonl" ${QARGS[$q]} > "$FP_TMP/q$q.check"; then
        if [ "$(head -1 "$FP_TMP/q$q.check")" = "0 expected, 0 returned" ] &&
            [ "$label" != "class (none)" ]; then
            fail "flows $label: the filter selects nothing (test data problem)"
        else
            fp_pass "flows $label: $(head -1 "$FP_TMP/q$q.check")"
        fi
    else
        fail "flows $label (${QARGS[$q]}): $(tr '\n' ';' < "$FP_TMP/q$q.check")"
    fi
done
if [ $TOP_RC -eq 0 ] && py top "$EXP" "$FP_TMP/top.jsonl" 5 > "$FP_TMP/top.check"; then
    fp_pass "flows --sort bytes --limit 5: $(cat "$FP_TMP/top.check")"
else
    fail "flows --sort bytes --limit 5: exit $TOP_RC: $(cat "$FP_TMP/top.err" "$FP_TMP/top.check")"
fi

# The sentinel is far away (pace_max_gap 600 s at pace 0.4): stop the daemon; SIGTERM exports
# every flow still in the cache and exits 0.
kill -TERM "$DPID" 2>/dev/null
fp_wait_pid "$DPID" 60
rc=$?
fp_forget_pid "$DPID"
[ $rc -eq 0 ] || fail "daemon exit status $rc: $(tail -3 "$FP_TMP/daemon.log")"
if [ -e "$SOCK" ]; then
    fail "socket not removed at exit"
else
    fp_pass "socket removed at exit"
fi
if py classify_log "$EXP" "$FP_TMP/stats.json" "$FP_TMP/daemon.log" > "$FP_TMP/cl.check"; then
    fp_pass "exit log: $(head -1 "$FP_TMP/cl.check")"
else
    fail "exit log classification line: $(tr '\n' ';' < "$FP_TMP/cl.check")"
fi

# classify.enabled=false: stats says so (no counters), the exit log has no classification line.
"$FP_BUILD/flowpulse" -r "$CAP" -w 2 -o capture.progress=false -o classify.enabled=false \
    -o capture.pace=0.4 -o capture.pace_max_gap=600 -o capture.burst=1 \
    -o "control.socket=$SOCK" -o flow.idle_timeout=600 "${FP_SMALL_RUN_OPTS[@]}" \
    > "$FP_TMP/daemon-off.log" 2>&1 &
DPID=$!
FP_PIDS+=("$DPID")
ready=0
for ((i = 0; i < 300; i++)); do
    if "$CTL" -s "$SOCK" stats > "$FP_TMP/stats-off.json" 2>/dev/null &&
        [ "$(py field "$FP_TMP/stats-off.json" packets received)" = "$FRAMES" ]; then
        ready=1
        break
    fi
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
done
off=$([ $ready -eq 1 ] && "$FP_PY" -c 'import json,sys
print(json.dumps(json.loads(open(sys.argv[1]).readline()).get("classify"), sort_keys=True))' \
    "$FP_TMP/stats-off.json")
kill -TERM "$DPID" 2>/dev/null
fp_wait_pid "$DPID" 60
rc=$?
fp_forget_pid "$DPID"
if [ "$off" = '{"enabled": false}' ]; then
    fp_pass "classify.enabled=false: stats classify = $off"
else
    fail "classify.enabled=false: stats classify = '$off' (ready $ready)"
fi
if [ $rc -eq 0 ] && grep -q "main: flows created" "$FP_TMP/daemon-off.log" &&
    ! grep -q "main: classification" "$FP_TMP/daemon-off.log"; then
    fp_pass "classify.enabled=false: no classification line at exit"
else
    fail "classify.enabled=false: exit $rc: $(grep "main: " "$FP_TMP/daemon-off.log" | tail -3)"
fi

if [ $FAILS -ne 0 ]; then
    fp_fail "$FAILS check(s) failed"
    exit 1
fi
fp_pass "all checks"
exit 0

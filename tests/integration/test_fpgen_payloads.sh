#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# fpgen --apps: the application payloads of the generated captures decode, with tshark, as
# what the generator means them to be, and the app profiles keep the flows of the plain ones.
#
# Captures (small): mixapp, bench64app, benchimixapp, plus bench64 for comparison. Checks:
#  - no malformed packet and no error-level expert item anywhere;
#  - every TLS ClientHello on TCP 443 carries the SNI of its server (service = host % N, the
#    table in scripts/fpgen.c), ALPN h2,http/1.1, supported_versions with TLS 1.3 and an
#    X25519 key_share; every such connection gets a ServerHello (TLS 1.3) back;
#  - every client QUIC Initial on UDP 443 is decrypted by tshark (RFC 9001 keys from the
#    DCID) and holds a ClientHello with its server's SNI and ALPN h3, in >= 1200 bytes;
#    the server's Initial decrypts to a ServerHello;
#  - every HTTP request has Host = its server's name;
#  - every DNS response answers its query (id, name), with A/AAAA addresses whose service is
#    the queried name; in mixapp each answered address is the server of a later flow;
#  - bench64app has the packets, times and 5-tuples (either direction) of bench64; its
#    frames differ in size only where they carry a whole handshake/request/response/DNS/
#    NTP/QUIC message;
#  - the same arguments give the same bytes, another seed other bytes.
. "$(dirname "$0")/lib.sh"
fp_lib_init fpgen_payloads
fp_need tshark "$FP_BUILD/fpgen"

GEN=$FP_BUILD/fpgen
D=$FP_TMP
"$GEN" --profile mixapp --seed 7 -o "$D/mixapp.pcap" 2>/dev/null &&
"$GEN" --profile mixapp --seed 7 -o "$D/mixapp2.pcap" 2>/dev/null &&
"$GEN" --profile mix --apps --seed 8 -o "$D/mixapp8.pcap" 2>/dev/null &&
"$GEN" --profile bench64 --flows 8000 --packets 40000 -o "$D/bench64.pcap" 2>/dev/null &&
"$GEN" --profile bench64app --flows 8000 --packets 40000 -o "$D/bench64app.pcap" 2>/dev/null &&
"$GEN" --profile benchimix --apps --flows 1200 --packets 50400 -o "$D/benchimixapp.pcap" \
    2>/dev/null || { fp_fail "fpgen failed"; exit 1; }

fail=0
cmp -s "$D/mixapp.pcap" "$D/mixapp2.pcap" ||
    { fp_log "same arguments gave different captures"; fail=1; }
cmp -s "$D/mixapp.pcap" "$D/mixapp8.pcap" &&
    { fp_log "another seed gave the same capture"; fail=1; }

FIELDS=(frame.number frame.time_epoch frame.len frame.protocols ip.src ip.dst ipv6.src ipv6.dst
    ip.proto ipv6.nxt tcp.srcport tcp.dstport udp.srcport udp.dstport udp.length tcp.len
    tls.handshake.type tls.handshake.extensions_server_name tls.handshake.extensions_alpn_str
    tls.handshake.extensions.supported_version tls.handshake.extensions_key_share_group
    quic.long.packet_type http.request http.host dns.flags.response dns.id dns.qry.name
    dns.qry.type dns.a dns.aaaa _ws.malformed _ws.expert.severity ntp.flags.mode)
dump() { # capture [tshark options] → capture.tsv (capture.nodeseg.tsv with options)
    local cap=$1 args=() f out=$1.tsv
    shift
    [ $# -gt 0 ] && out=$cap.nodeseg.tsv
    for f in "${FIELDS[@]}"; do args+=(-e "$f"); done
    tshark -r "$cap" "$@" -T fields -E separator=/t -E occurrence=a -E aggregator=, "${args[@]}" \
        2>/dev/null > "$out"
}
for c in mixapp bench64 bench64app benchimixapp; do
    dump "$D/$c.pcap" || { fp_fail "tshark failed on $c"; exit 1; }
done
# For the frame-size check only: HTTP bodies not desegmented, so that a response header is
# shown as HTTP in its own frame (the bodies then decode as junk headers: not checked there).
dump "$D/bench64app.pcap" -o http.desegment_body:FALSE || { fp_fail "tshark failed"; exit 1; }

"$FP_PY" - "$FP_ROOT/scripts/fpgen.c" "$D" "${FIELDS[@]}" <<'EOF' || fail=1
import ipaddress, re, sys
src, d, fields = sys.argv[1], sys.argv[2], sys.argv[3:]
# The service table of the generator: the first string of each entry of services[].
text = open(src).read()
table = re.search(r'services\[\] = \{(.*?)\n\};', text, re.S).group(1)
names = re.findall(r'^\s*\{"([^"]+)"', table, re.M)
assert len(names) >= 10, names
N = len(names)
bad = 0

def err(cap, msg):
    global bad
    bad += 1
    if bad <= 30:
        print(f"  {cap}: {msg}", file=sys.stderr)

def rows(cap, suffix="tsv"):
    out = []
    for line in open(f"{d}/{cap}.pcap.{suffix}"):
        v = line.rstrip("\n").split("\t")
        v += [""] * (len(fields) - len(v))
        out.append(dict(zip(fields, v)))
    return out

def last(v):  # innermost value (GRE/VXLAN give outer,inner)
    return v.split(",")[-1] if v else ""

def svc(addr):
    a = ipaddress.ip_address(addr)
    return (int(a) & 0xffffffff if a.version == 6 else int(a) & 0xff) % N

def endpoints(r):
    s, t = last(r["ip.src"]) or last(r["ipv6.src"]), last(r["ip.dst"]) or last(r["ipv6.dst"])
    sp = last(r["tcp.srcport"]) or last(r["udp.srcport"])
    dp = last(r["tcp.dstport"]) or last(r["udp.dstport"])
    return s, t, sp, dp

def check(cap, later_flows):
    rs = rows(cap)
    n = dict(ch=0, sh=0, qch=0, qsh=0, http=0, dnsq=0, dnsr=0, ans=0)
    ch_conns, sh_conns, queries = set(), set(), {}
    dst_times = {}
    for r in rs:
        s, t, sp, dp = endpoints(r)
        if dp not in ("53", "") and "dns" not in r["frame.protocols"]:
            dst_times.setdefault(t, []).append(float(r["frame.time_epoch"]))
    for r in rs:
        fn = r["frame.number"]
        s, t, sp, dp = endpoints(r)
        if r["_ws.malformed"]:
            err(cap, f"frame {fn}: malformed")
        if "8388608" in r["_ws.expert.severity"].split(","):
            err(cap, f"frame {fn}: error-level expert info")
        ht = r["tls.handshake.type"].split(",")
        quic = "quic" in r["frame.protocols"]
        sni = r["tls.handshake.extensions_server_name"]
        if "1" in ht:
            want_alpn = "h3" if quic else "h2,http/1.1"
            if sni != names[svc(t)]:
                err(cap, f"frame {fn}: SNI {sni!r} to {t}, expected {names[svc(t)]!r}")
            if r["tls.handshake.extensions_alpn_str"] != want_alpn:
                err(cap, f"frame {fn}: ALPN {r['tls.handshake.extensions_alpn_str']!r}")
            if "0x0304" not in r["tls.handshake.extensions.supported_version"]:
                err(cap, f"frame {fn}: no TLS 1.3 in supported_versions")
            if r["tls.handshake.extensions_key_share_group"] != "29":
                err(cap, f"frame {fn}: key_share {r['tls.handshake.extensions_key_share_group']!r}")
            if quic:
                n["qch"] += 1
                if int(last(r["udp.length"])) - 8 < 1200:
                    err(cap, f"frame {fn}: client Initial datagram below 1200 bytes")
            else:
                n["ch"] += 1
                ch_conns.add((s, t, sp, dp))
        if "2" in ht:
            if r["tls.handshake.extensions.supported_version"] != "0x0304":
                err(cap, f"frame {fn}: ServerHello without TLS 1.3")
            if quic:
                n["qsh"] += 1
            else:
                n["sh"] += 1
                sh_conns.add((t, s, dp, sp))
        # every client Initial must have been decrypted (its ClientHello seen above)
        if quic and r["quic.long.packet_type"] == "0" and dp == "443" and "1" not in ht:
            err(cap, f"frame {fn}: client QUIC Initial not decrypted to a ClientHello")
        if r["http.request"]:
            n["http"] += 1
            host = r["http.host"].split(",")[0]
            if host != names[svc(t)]:
                err(cap, f"frame {fn}: HTTP Host {host!r} to {t}, expected {names[svc(t)]!r}")
        if dp == "443" and not quic and "tcp" in r["frame.protocols"] and \
                r["tcp.len"] not in ("", "0") and (s, t, sp, dp) not in ch_conns:
            err(cap, f"frame {fn}: TCP 443 data before any ClientHello")
        if "dns" in r["frame.protocols"]:
            qn = r["dns.qry.name"]
            if qn not in names:
                err(cap, f"frame {fn}: DNS name {qn!r} is not a service")
                continue
            if r["dns.flags.response"] == "0":
                n["dnsq"] += 1
                queries[(s, sp, r["dns.id"])] = qn
                continue
            n["dnsr"] += 1
            if queries.pop((t, dp, r["dns.id"]), None) != qn:
                err(cap, f"frame {fn}: DNS response without its query")
            qt = r["dns.qry.type"]
            addrs = [a for a in (r["dns.a"] + "," + r["dns.aaaa"]).split(",") if a]
            if qt == "1" and r["dns.aaaa"] or qt == "28" and r["dns.a"]:
                err(cap, f"frame {fn}: answer type does not match query type {qt}")
            for a in addrs:
                n["ans"] += 1
                if svc(a) != names.index(qn):
                    err(cap, f"frame {fn}: {a} answered for {qn} belongs to {names[svc(a)]}")
                if later_flows:
                    ts = float(r["frame.time_epoch"])
                    if not any(x > ts for x in dst_times.get(a, [])):
                        err(cap, f"frame {fn}: answered address {a} is not a later server")
    if ch_conns - sh_conns:
        err(cap, f"{len(ch_conns - sh_conns)} TLS connections without a ServerHello")
    for k in ("ch", "sh", "qch", "qsh", "http", "dnsq", "dnsr", "ans"):
        if n[k] == 0:
            err(cap, f"no {k} at all")
    if n["qch"] != n["qsh"]:
        err(cap, f"{n['qch']} QUIC client Initials but {n['qsh']} server Initials")
    print(f"  {cap}: " + ", ".join(f"{k}={v}" for k, v in n.items()), file=sys.stderr)
    return rs

check("mixapp", True)
check("benchimixapp", False)
app = check("bench64app", False)
plain = rows("bench64")
if len(plain) != len(app):
    err("bench64app", f"{len(app)} packets, bench64 has {len(plain)}")
natural = 0
for p, a in zip(plain, rows("bench64app", "nodeseg.tsv")):
    fn = a["frame.number"]
    # (the client sends the first data packet of an app connection: direction may differ)
    ep, ea = endpoints(p), endpoints(a)
    if p["frame.time_epoch"] != a["frame.time_epoch"] or \
            sorted([ep[0::2], ep[1::2]]) != sorted([ea[0::2], ea[1::2]]):
        err("bench64app", f"frame {fn}: time or 5-tuple differs from bench64")
        continue
    if p["frame.len"] != a["frame.len"]:
        natural += 1
        pr = a["frame.protocols"]
        whole = (a["tls.handshake.type"] or a["http.request"] or "dns" in pr or "ntp" in pr
                 or "quic" in pr or "http" in pr)
        if not whole:
            err("bench64app", f"frame {fn}: {a['frame.len']} bytes but no whole message ({pr})")
if not natural:
    err("bench64app", "no frame at its natural size")
print(f"  bench64app: {natural} frames above 64 bytes (messages at natural size)",
      file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

if [ $fail -eq 0 ]; then
    fp_pass "TLS/QUIC SNI, HTTP Host, DNS answers decode as generated; no malformed packet"
else
    fp_fail "see the messages above"
    exit 1
fi

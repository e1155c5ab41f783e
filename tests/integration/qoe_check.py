#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compare FlowPulse QoE fields (decoded by ipfixDump or pmacct) with independent truth.

    qoe_check.py gen TRUTH.json DUMP.txt            generated captures (tests/tools/qoegen.py)
    qoe_check.py pmacct TRUTH.json... --csv CSV     nfacctd print plugin CSV, a few fields
    qoe_check.py shared CAPTURE DUMP.txt [--rtp-streams TSHARK.txt] [--rtp-fields FIELDS.txt]
                                                    ../shared/pcaps: TCP handshakes, RTP

Prints "ok ..." / "FAIL ..." / "note ..." lines; exit status 1 when anything failed.

Tolerances (src/qoe/README.md; the engines keep a 32-bit microsecond clock and libpcap hands
microsecond timestamps to the capture, so every time can be off by truncation):
  time    RTT, network delays, ART, server delay, TLS, DNS, zero-window time: 1 % or 10 us
  jitter  RTP jitter: 1 % (at least 1 us: the export is rounded to whole microseconds)
  mos     MOS x100: +-1 (rounding) plus what the jitter tolerance moves it by
  rfactor R x100: +-2 plus the same
  exact   counters, outcome, rcode, loss, expected, reordered
  SPLT    lengths and directions exact, inter-arrival time within 1/128 + 1 us (the 12-bit
          exponent/mantissa code of the README, plus truncation to microseconds)
"""

import argparse
import collections
import csv
import ipaddress
import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import truth as fptruth  # noqa: E402  (independent pcap decoder of the integration harness)

DATA_TIDS = {262, 263, 264, 265}
problems = []


def fail(msg):
    problems.append(msg)
    print("FAIL " + msg)


def ok(msg):
    print("ok   " + msg)


def note(msg):
    print("note " + msg)


# --------------------------------------------------------------------------------------------
# ipfixDump text

FIELD_RE = re.compile(r"^\t\((?:(\d+)/)?(\d+)\)\s+(\S+) : ?(.*)$")
LIST_HDR_RE = re.compile(r"count: (\d+)\s+semantic: .*ie: \((?:\d+/)?\d+\) (\S+)")
LIST_ITEM_RE = re.compile(r"^\t\t\t(\d+)\s*: (.*)$")


def norm_addr(a):
    return str(ipaddress.ip_address(a.strip()))


def parse_ipfixdump(path):
    """Data records of the flow templates: list of dicts IE name -> value (int, str, list)."""
    recs = []
    cur = None
    lst = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("--- "):
                if cur is not None and cur.get("_tid") in DATA_TIDS:
                    recs.append(cur)
                cur = {} if line.startswith("--- data record") else None
                lst = None
                continue
            if cur is None:
                continue
            m = re.search(r"tid:\s+(\d+)", line)
            if m and "_tid" not in cur:
                cur["_tid"] = int(m.group(1))
                continue
            m = LIST_HDR_RE.search(line)
            if m:
                lst = cur.setdefault(m.group(2), [])
                continue
            m = LIST_ITEM_RE.match(line)
            if m and lst is not None:
                lst.append(int(m.group(2)))
                continue
            m = FIELD_RE.match(line)
            if m:
                lst = None
                name, val = m.group(3), m.group(4).strip()
                if val.startswith("(len:"):
                    val = val.split(")", 1)[1].strip()
                elif re.fullmatch(r"-?\d+", val):
                    val = int(val)
                cur[name] = val
    if cur is not None and cur.get("_tid") in DATA_TIDS:
        recs.append(cur)
    for r in recs:
        src = r.get("sourceIPv4Address", r.get("sourceIPv6Address"))
        dst = r.get("destinationIPv4Address", r.get("destinationIPv6Address"))
        r["_key"] = (norm_addr(src), norm_addr(dst), r["sourceTransportPort"],
                     r["destinationTransportPort"], r["protocolIdentifier"])
    return recs


def by_key(recs):
    """Records per 5-tuple in file order (active-timeout records: the last is cumulative)."""
    d = collections.defaultdict(list)
    for r in recs:
        d[r["_key"]].append(r)
    return d


# --------------------------------------------------------------------------------------------
# Tolerances

def within(got, exp, tol):
    """None when got matches exp under tol, else a short reason."""
    if tol == "exact":
        return None if got == int(round(exp)) else "want %s" % int(round(exp))
    if tol == "time":
        lim = max(0.01 * exp, 10.0)
    elif tol == "jitter":
        lim = max(0.01 * exp, 1.0)
    else:
        raise ValueError(tol)
    return None if abs(got - exp) <= lim else "want %.1f +- %.1f" % (exp, lim)


def emodel(jitter_us, loss_frac):
    el = 2.0 * jitter_us / 1000.0 + 10.0
    r = 93.2 - el / 40.0 if el < 160 else 93.2 - (el - 120.0) / 10.0
    r -= 2.5 * loss_frac * 100.0
    if r <= 0:
        mos = 1.0
    elif r >= 100:
        mos = 4.5
    else:
        mos = max(1.0, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
    return mos * 100, r * 100


def check_mos(got, exp, tol, fields):
    """MOS / R within rounding plus the effect of the 1 % jitter tolerance."""
    j = fields["fpRtpJitterUs"][0]
    lost, expd = fields["fpRtpLost"][0], fields["fpRtpExpected"][0]
    lo = emodel(j * 1.01 + 1, lost / expd)
    hi = emodel(max(0.0, j * 0.99 - 1), lost / expd)
    k = 0 if tol == "mos" else 1
    slack = 1.0 if tol == "mos" else 2.0
    if lo[k] - slack <= got <= hi[k] + slack:
        return None
    return "want %.1f (%.1f..%.1f)" % (exp, lo[k] - slack, hi[k] + slack)


# --------------------------------------------------------------------------------------------
# gen: generated captures

def check_fields(label, rec, fields, only=None):
    """Compare rec with the truth fields (all of them, or those named in only)."""
    bad = 0
    for name, (exp, tol) in sorted(fields.items()):
        if only is not None and name not in only:
            continue
        if name not in rec:
            fail("%s: %s missing from the record" % (label, name))
            bad += 1
            continue
        got = rec[name]
        if tol in ("mos", "rfactor"):
            why = check_mos(got, exp, tol, fields)
        else:
            why = within(got, exp, tol)
        if why:
            fail("%s: %s = %s, %s" % (label, name, got, why))
            bad += 1
    return bad


def check_splt(label, rec, splt):
    lens = rec.get("fpSpltPacketLength", [])
    dirs = rec.get("fpSpltDirection", [])
    iats = rec.get("fpSpltInterArrivalUs", [])
    if not (len(lens) == len(dirs) == len(iats) == len(splt)):
        fail("%s: SPLT has %d/%d/%d entries, want %d" % (label, len(lens), len(dirs), len(iats),
                                                         len(splt)))
        return 1
    for i, (d, n, iat) in enumerate(splt):
        if dirs[i] != d or lens[i] != n or abs(iats[i] - iat) > iat / 128.0 + 1.0:
            fail("%s: SPLT[%d] = (dir %d, len %d, iat %d), want (%d, %d, %.1f)" %
                 (label, i, dirs[i], lens[i], iats[i], d, n, iat))
            return 1
    return 0


def cmd_gen(a):
    t = json.load(open(a.truth))
    recs = by_key(parse_ipfixdump(a.dump))
    nflows = 0
    for fl in t["flows"]:
        nflows += 1
        sides = [(fl["client"], fl["server"], fl["cport"], fl["sport"]),
                 (fl["server"], fl["client"], fl["sport"], fl["cport"])]
        bad = 0
        for d in (0, 1):
            want = fl["dir"][d]
            s, dd, sp, dp = sides[d]
            key = (norm_addr(s), norm_addr(dd), sp, dp, fl["proto"])
            label = "%s %s dir %d" % (t["capture"], fl["name"], d)
            rl = recs.get(key, [])
            if want is None:
                if rl:
                    fail("%s: unexpected record" % label)
                    bad += 1
                continue
            if not rl:
                fail("%s: no record for %s" % (label, key))
                bad += 1
                continue
            if len(rl) > 1:
                fail("%s: %d records (a generated flow must give one)" % (label, len(rl)))
                bad += 1
            rec = rl[-1]
            fields = dict(fl["conn"])
            fields.update(want)
            bad += check_fields(label, rec, fields)
            v = rec.get("fpQoeValid", 0)
            for b in fl["valid_set"]:
                if not v >> b & 1:
                    fail("%s: fpQoeValid %#x lacks bit %d" % (label, v, b))
                    bad += 1
            for b in fl["valid_clear"]:
                if v >> b & 1:
                    fail("%s: fpQoeValid %#x has bit %d" % (label, v, b))
                    bad += 1
            bad += check_splt(label, rec, fl["splt"])
        if not bad:
            ok("%s %s: %d fields" % (t["capture"], fl["name"],
                                     sum(len(x) for x in fl["dir"] if x) + 2 * len(fl["conn"])))
    return nflows


# --------------------------------------------------------------------------------------------
# pmacct

PM_FIELDS = ("fpQoeValid", "fpServerNwDelayUs", "fpClientNwDelayUs", "fpRttMinUs",
             "fpRetransPackets", "fpOutOfOrderPackets", "fpZeroWindowEvents", "fpTcpOutcome",
             "fpDnsResponseUs", "fpDnsRcode", "fpRtpJitterUs", "fpRtpLost", "fpRtpMosX100")


PROTOS = {"tcp": 6, "udp": 17, "6": 6, "17": 17}


def cmd_pmacct(a):
    rows = {}
    with open(a.csv) as f:
        rd = csv.reader(f)
        hdr = None
        for row in rd:
            if not row:
                continue
            if row[0].upper() == "SRC_IP":
                hdr = [h.lower() for h in row]
                continue
            if hdr is None:
                continue
            r = dict(zip(hdr, row))
            key = (norm_addr(r["src_ip"]), norm_addr(r["dst_ip"]), int(r["src_port"]),
                   int(r["dst_port"]), PROTOS.get(r.get("protocol", r.get("proto"))))
            rows[key] = r
    if not rows:
        fail("pmacct: no rows in %s" % a.csv)
        return
    n = 0
    for tf in a.truth:
        t = json.load(open(tf))
        for fl in t["flows"]:
            for d in (0, 1):
                want = fl["dir"][d]
                if want is None:
                    continue
                ends = ((fl["client"], fl["server"], fl["cport"], fl["sport"]) if d == 0 else
                        (fl["server"], fl["client"], fl["sport"], fl["cport"]))
                key = (norm_addr(ends[0]), norm_addr(ends[1]), ends[2], ends[3], fl["proto"])
                label = "pmacct %s dir %d" % (fl["name"], d)
                r = rows.get(key)
                if r is None:
                    fail("%s: no row" % label)
                    continue
                fields = dict(fl["conn"])
                fields.update(want)
                rec = {}
                for name in PM_FIELDS:
                    v = r.get(name.lower())
                    if v is None:
                        fail("%s: column %s missing" % (label, name))
                        continue
                    rec[name] = int(v) if v else 0
                bad = check_fields(label, rec, fields, only=rec)
                v = rec.get("fpQoeValid", 0)
                for b in fl["valid_set"]:
                    if not v >> b & 1:
                        fail("%s: fpQoeValid %#x lacks bit %d" % (label, v, b))
                        bad += 1
                if not bad:
                    n += 1
    ok("pmacct: %d uniflow rows match the truth on %d QoE columns" % (n, len(PM_FIELDS)))


# --------------------------------------------------------------------------------------------
# shared: real captures

def read_capture_ts(path):
    """Yield (linktype, t_ns, frame) from a pcap or pcapng file (own reader: timestamps)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head == b"\x0a\x0d\x0d\x0a":
            yield from _pcapng(f, head)
            return
        if head in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            e = "<"
        elif head in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            e = ">"
        else:
            raise ValueError("%s: not a capture file" % path)
        ns = head in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        rest = f.read(20)
        link = struct.unpack(e + "I", rest[16:20])[0] & 0xFFFF
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, caplen, _ = struct.unpack(e + "IIII", h)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield link, sec * 10**9 + (frac if ns else frac * 1000), data


def _pcapng(f, first):
    e = "<"
    ifs = []  # (linktype, ticks per second)
    buf = first + f.read(8)
    while len(buf) == 12:
        btype = struct.unpack(e + "I", buf[:4])[0] if buf[:4] != b"\x0a\x0d\x0d\x0a" else 0x0A0D0D0A
        if btype == 0x0A0D0D0A:
            bom = buf[8:12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifs = []
        blen = struct.unpack(e + "I", buf[4:8])[0]
        body = buf[8:] + f.read(blen - 12)
        if len(body) < blen - 8:
            return
        body = body[:-4]
        if btype == 1:
            link = struct.unpack(e + "H", body[:2])[0]
            tps = 10**6
            p = 8
            while p + 4 <= len(body):
                code, olen = struct.unpack(e + "HH", body[p:p + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = body[p + 4]
                    tps = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                p += 4 + ((olen + 3) & ~3)
            ifs.append((link, tps))
        elif btype == 6:
            iid, hi, lo, caplen = struct.unpack(e + "IIII", body[:16])
            if iid < len(ifs):
                link, tps = ifs[iid]
                ticks = (hi << 32) | lo
                yield link, ticks * 10**9 // tps, body[20:20 + caplen]
        buf = f.read(12)


class TcpMeta(fptruth.Decoder):
    """truth.py's decoder, remembering where the innermost L4 header starts."""

    def transport(self, d, l4, end, m):
        self.l4 = (l4, end)
        return super().transport(d, l4, end, m)


def handshakes(path):
    """Clean three-way handshakes: {(client, server, cport, sport): (snd_ns, cnd_ns)}.
    Clean = the SYN is the connection's first packet, exactly one SYN and one SYN/ACK (no
    Karn ambiguity), no RST or client payload before the client's ACK of the SYN/ACK."""
    dec = TcpMeta()
    pk = collections.defaultdict(list)  # tuple (either orientation) -> [(t, src, flags, ...)]
    for link, t, data in read_capture_ts(path):
        lt = fptruth.LINKTYPES.get(link)
        if lt is None:
            continue
        dec.l4 = None
        try:
            m = dec.frame(lt, memoryview(data))
        except (fptruth.Bad, struct.error, IndexError):
            continue
        if m.proto != 6 or m.later_frag or dec.l4 is None:
            continue
        l4, end = dec.l4
        if end < l4 + 20 or struct.unpack_from(">HH", data, l4) != (m.sport, m.dport):
            continue
        seq, ack = struct.unpack_from(">II", data, l4 + 4)
        flags = data[l4 + 13]
        hl = (data[l4 + 12] >> 4) * 4
        plen = max(0, end - l4 - hl)
        a, b = (m.src, m.sport), (m.dst, m.dport)
        k = (a, b) if a < b else (b, a)
        pk[k].append((t, a, flags, seq, ack, plen))
    out = {}
    for k, lst in pk.items():
        t0, cl, fl0 = lst[0][0], lst[0][1], lst[0][2]
        if fl0 & 0x12 != 0x02:
            continue
        syns = [p for p in lst if p[2] & 0x12 == 0x02]
        sas = [p for p in lst if p[2] & 0x12 == 0x12]
        if len(syns) != 1 or len(sas) != 1 or sas[0][1] == cl:
            continue
        sa = sas[0]
        good = None
        for p in lst[1:]:
            if p[0] < t0:
                break
            if p[2] & 0x04:
                break  # RST before the handshake completed
            if p[1] == cl and p[5] > 0 and p[0] <= sa[0]:
                break  # client data before the SYN/ACK
            if p[1] == cl and p[0] >= sa[0] and p[2] & 0x10 and not p[2] & 0x06 and \
                    p[4] == (sa[3] + 1) & 0xFFFFFFFF:
                good = p
                break
        if good is None or not (t0 <= sa[0] <= good[0]) or good[0] - t0 > 10 * 10**9:
            continue
        sv = k[1] if k[0] == cl else k[0]
        key = (fptruth.fmt_addr(cl[0]), fptruth.fmt_addr(sv[0]), cl[1], sv[1])
        out[key] = (sa[0] - t0, good[0] - sa[0])
    return out


STREAM_RE = re.compile(
    r"^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.*?)\s+"
    r"(\d+)\s+(-?\d+) \(-?[\d.]+%\)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+"
    r"(-?[\d.]+)\s+(-?[\d.]+)\s*(X?)\s*$")


def parse_streams(path):
    """tshark -z rtp,streams: one dict per (direction, SSRC)."""
    out = []
    for line in open(path, errors="replace"):
        m = STREAM_RE.match(line)
        if m:
            out.append({"src": norm_addr(m.group(3)), "sport": int(m.group(4)),
                        "dst": norm_addr(m.group(5)), "dport": int(m.group(6)),
                        "ssrc": int(m.group(7), 16), "payload": m.group(8),
                        "pkts": int(m.group(9)), "lost": int(m.group(10)),
                        "max_jitter_ms": float(m.group(16))})
    return out


def parse_rtp_fields(path):
    """tshark -T fields (time, ip/ipv6 src, dst, udp ports, rtp ssrc, seq, timestamp, pt):
    {(src, sport, dst, dport): [(t_s, ssrc, seq, ts, pt)]} in capture (arrival) order."""
    pk = collections.defaultdict(list)
    for line in open(path):
        p = line.rstrip("\n").split("\t")
        if len(p) < 11 or not p[7]:
            continue
        try:
            src = (p[1] or p[2]).split(",")[-1]
            dst = (p[3] or p[4]).split(",")[-1]
            k = (norm_addr(src), int(p[5].split(",")[-1]), norm_addr(dst),
                 int(p[6].split(",")[-1]))
            pk[k].append((float(p[0]), int(p[7].split(",")[0], 16), int(p[8].split(",")[0]),
                          int(p[9].split(",")[0]), int(p[10].split(",")[0])))
        except ValueError:
            continue
    return pk


def rtp_clock(pt):
    """RFC 3551 static clock rate (src/qoe/README.md), None for payload types without one
    (dynamic 96-127, reserved, unassigned): FlowPulse infers those, see metered_jitter."""
    if pt in (0, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18):
        return 8000  # G.722 (9) included: 8000 by RFC 3551
    if pt == 6:
        return 16000
    if pt in (10, 11):
        return 44100
    if pt == 16:
        return 11025
    if pt == 17:
        return 22050
    if pt in (14, 25, 26, 28, 31, 32, 33, 34):
        return 90000
    return None


STD_CLOCKS = (8000, 12000, 16000, 24000, 32000, 44100, 48000, 90000)


def snap_clock(rate):
    """README: the standard RTP clock nearest (relatively) to rate within +-20 %, else the
    48000 fallback. Returns (clock, fell_back)."""
    best = min(STD_CLOCKS, key=lambda c: abs(rate - c) / c)
    if abs(rate - best) <= 0.2 * best:
        return best, False
    return 48000, True


def metered_jitter(pt, out):
    """Clock and A.8 jitter as README §3 documents them, over the metered packets `out`
    ([(t_s, ext seq, ts)] from the one that ended probation, arrival order): a static
    payload type uses its RFC 3551 clock from the first packet; otherwise the reference is
    out[0], the clock is fixed at the first non-duplicate packet that is >= 8 non-duplicate
    packets and >= 0.5 s after it (rate = dts / dt snapped to a standard clock), and the
    jitter starts there (first sample: that packet against the previous one). Returns
    (clock or None when not fixed yet, how, final J, max J) in microseconds."""
    seen, u = set(), []
    for p in out:
        if p[1] not in seen:
            seen.add(p[1])
            u.append(p)
    clock = rtp_clock(pt)
    if clock:
        return (clock, "static") + jitter_run(u, clock)
    if not u:
        return None, "too short", 0.0, 0.0
    us = [int(round(t * 1e6)) for t, _, _ in u]  # the engine's microsecond clock
    for k in range(8, len(u)):
        dt = us[k] - us[0]
        if dt < 500000:
            continue
        dts = ((u[k][2] - u[0][2] + (1 << 31)) % (1 << 32)) - (1 << 31)
        clock, fb = snap_clock(dts * 1e6 / dt if dts > 0 else 0.0)
        # Plausibility (not the rule): the rate over the whole stream.
        dts_all = ((u[-1][2] - u[0][2] + (1 << 31)) % (1 << 32)) - (1 << 31)
        dt_all = us[-1] - us[0]
        whole, _ = snap_clock(dts_all * 1e6 / dt_all if dts_all > 0 and dt_all > 0 else 0.0)
        if whole != clock:
            note("PT %d: clock %d Hz fixed after 0.5 s, but the whole stream (%.2f s) runs at "
                 "%.0f Hz (-> %d Hz); see src/qoe/README.md §3 limits" %
                 (pt, clock, dt_all / 1e6, dts_all * 1e6 / dt_all, whole))
        return (clock, "fallback" if fb else "inferred at packet %d" % (k + 1)) + \
            jitter_run(u[k - 1:], clock)
    return None, "too short to infer", 0.0, 0.0


def jitter_run(pkts, clock):
    """Floating-point RFC 3550 A.8 over [(t_s, seq, ts)] in arrival order, duplicates
    skipped: (final J, max J) in microseconds."""
    j = jmax = 0.0
    prev = None
    seen = set()
    for t, seq, ts in pkts:
        if seq in seen:
            continue
        seen.add(seq)
        if prev is not None:
            ds = ((ts - prev[1] + (1 << 31)) % (1 << 32)) - (1 << 31)
            d = (t - prev[0]) * 1e6 - ds * 1e6 / clock
            j += (abs(d) - j) / 16.0
            jmax = max(jmax, j)
        prev = (t, ts)
    return j, jmax


def metered_stream(pkts):
    """Which packets FlowPulse meters in one direction (README: RTP candidates by header,
    accepted after 2 in-sequence packets of one SSRC, a different SSRC during probation
    restarts it, later SSRCs ignored). Returns (ssrc, pt, packets from the one that ended
    probation on as [(t, extended seq, ts)]) or None."""
    cand = None  # (ssrc, last seq, payload type of the packet that started probation)
    for i, (t, ssrc, seq, ts, pt) in enumerate(pkts):
        if not (pt <= 34 or 96 <= pt <= 127):
            continue
        if cand is not None and cand[0] == ssrc and seq == (cand[1] + 1) & 0xFFFF:
            out, ext_prev = [], None
            for (t2, s2, q2, ts2, _) in pkts[i:]:
                if s2 != ssrc:
                    continue
                if ext_prev is None:
                    ext = q2
                else:
                    ext = ext_prev + (((q2 - ext_prev) + 0x8000) & 0xFFFF) - 0x8000
                out.append((t2, ext, ts2))
                ext_prev = max(ext_prev, ext) if ext_prev is not None else ext
            return ssrc, cand[2], out
        cand = (ssrc, seq, cand[2] if cand is not None and cand[0] == ssrc else pt)
    return None


def cmd_shared(a):
    recs = by_key(parse_ipfixdump(a.dump))
    name = os.path.basename(a.capture)
    # 1. TCP handshakes
    if a.handshakes:
        hs = {tuple(k): tuple(v) for k, v in json.load(open(a.handshakes))}
    else:
        hs = handshakes(a.capture)
    nbad = 0
    for (cl, sv, cp, sp), (snd, cnd) in sorted(hs.items()):
        rl = recs.get((cl, sv, cp, sp, 6), [])
        label = "%s tcp %s:%d -> %s:%d" % (name, cl, cp, sv, sp)
        cand = [r for r in rl if r.get("fpQoeValid", 0) & 3 == 3]
        if not cand:
            fail("%s: clean handshake (SND %.1f us, CND %.1f us) but no record with both delays"
                 " (%d records, fpQoeValid %s)" % (label, snd / 1e3, cnd / 1e3, len(rl),
                                                  [hex(r.get("fpQoeValid", 0)) for r in rl]))
            nbad += 1
            continue
        r = cand[0]
        got_s, got_c = r["fpServerNwDelayUs"], r["fpClientNwDelayUs"]
        why = within(got_s, snd / 1e3, "time") or within(got_c, cnd / 1e3, "time")
        if why or got_s <= 0 and snd >= 1000 or got_c <= 0 and cnd >= 1000:
            fail("%s: SND %d / CND %d us, want %.1f / %.1f" % (label, got_s, got_c, snd / 1e3,
                                                             cnd / 1e3))
            nbad += 1
        elif got_s <= 0 or got_c <= 0:
            note("%s: capture timestamps give a delay below 1 us (SND %.3f, CND %.3f us)" %
                 (label, snd / 1e3, cnd / 1e3))
    if hs:
        print("info %s: %d clean TCP handshakes, %d wrong" % (name, len(hs), nbad))
        if not nbad:
            ok("%s: %d TCP handshakes: SND and CND > 0 and within 1 %% or 10 us" %
               (name, len(hs)))
    # 2. RTP against tshark
    if not a.rtp_streams:
        return
    streams = [s for s in parse_streams(a.rtp_streams) if s["pkts"] >= 3]
    fields = parse_rtp_fields(a.rtp_fields) if a.rtp_fields else {}
    dirs = collections.defaultdict(list)
    for s in streams:
        dirs[(s["src"], s["sport"], s["dst"], s["dport"])].append(s)
    checked = 0
    for dk, sl in sorted(dirs.items()):
        key = (dk[0], dk[2], dk[1], dk[3], 17)
        label = "%s rtp %s:%d -> %s:%d" % (name, dk[0], dk[1], dk[2], dk[3])
        rl = [r for r in recs.get(key, []) if r.get("fpQoeValid", 0) >> 8 & 1]
        if not rl:
            fail("%s: tshark stream(s) %s but no record with RTP values" %
                 (label, ["%#x %s %d pkts" % (s["ssrc"], s["payload"], s["pkts"]) for s in sl]))
            continue
        r = max(rl, key=lambda x: x.get("fpRtpExpected", 0))
        mos = r["fpRtpMosX100"]
        exp, lost, jit, jmax = (r["fpRtpExpected"], r["fpRtpLost"], r["fpRtpJitterUs"],
                                r["fpRtpJitterMaxUs"])
        want_mos = emodel(jit, max(0, lost) / exp if exp else 0)[0]
        if not 100 <= mos <= 450 or abs(mos - want_mos) > 1:
            fail("%s: MOS x100 %d not the E-model of jitter %d us, loss %d/%d (%.1f)" %
                 (label, mos, jit, lost, exp, want_mos))
            continue
        bad, txt = [], []
        # (a) tshark's own analysis, when the direction has one SSRC: loss equal; FlowPulse
        # counts expected from the second packet (RFC 3550 A.1 probation).
        if len(sl) == 1:
            s = sl[0]
            if lost != s["lost"]:
                bad.append("lost %d, tshark %d" % (lost, s["lost"]))
            if exp != s["pkts"] + s["lost"] - 1:
                bad.append("expected %d, tshark packets + lost - 1 = %d" %
                           (exp, s["pkts"] + s["lost"] - 1))
            txt.append("loss %d/%d = tshark" % (lost, exp))
        # (b) independent RFC 3550 computation on tshark's per-packet fields: the stream
        # FlowPulse meters, from the packet that ended probation, FlowPulse's clock rate.
        pk = fields.get(dk)
        ms = metered_stream(pk) if pk else None
        if ms is None:
            bad.append("no per-packet RTP fields from tshark")
        else:
            ssrc, pt, out = ms
            clock, how, j, jm = metered_jitter(pt, out)
            exts = [q for _, q, _ in out]
            e_exp = max(exts) - exts[0] + 1
            e_lost = e_exp - len(set(exts))
            if exp != e_exp or lost != e_lost:
                bad.append("ssrc %#x: loss %d/%d, computed %d/%d" % (ssrc, lost, exp, e_lost,
                                                                    e_exp))
            for what, got, want in (("jitter", jit, j), ("max jitter", jmax, jm)):
                why = within(got, want, "jitter")
                if why:
                    bad.append("%s %d us, RFC 3550 at %s Hz (%s): %s" % (what, got, clock, how,
                                                                         why))
            txt.append("ssrc %#x PT %d jitter %d/%.1f us, max %d/%.1f us (RFC 3550 at %s Hz, %s)"
                       % (ssrc, pt, jit, j, jmax, jm, clock, how))
            # (c) tshark's jitter (static payload types, or dynamic ones whose clock tshark
            # learnt from SDP; tshark reports 0 otherwise and has no option to be told a
            # clock): our estimator started where tshark starts (the SSRC's first packet)
            # must give tshark's max jitter; this validates (b) against tshark itself.
            for s in sl:
                if s["ssrc"] != ssrc or s["max_jitter_ms"] <= 0 or clock is None:
                    continue
                first = [(t, q, ts) for t, s2, q, ts, _ in pk if s2 == ssrc]
                _, tm = jitter_run(first, clock)
                why = within(tm, s["max_jitter_ms"] * 1000.0, "jitter")
                if why:
                    bad.append("RFC 3550 from the first packet gives max %.1f us, tshark %.1f us"
                               % (tm, s["max_jitter_ms"] * 1000.0))
                txt.append("tshark max jitter %.1f us = ours from packet 1 %.1f us" %
                           (s["max_jitter_ms"] * 1000.0, tm))
        if bad:
            fail("%s: %s" % (label, "; ".join(bad)))
            continue
        checked += 1
        ok("%s: MOS %d; %s" % (label, mos, "; ".join(txt)))
    print("info %s: %d RTP directions (>= 3 packets) in tshark, %d checked" %
          (name, len(dirs), checked))


def cmd_scan(a):
    """Clean handshakes of many captures in one process: DIR/<name>.hs.json; prints the
    captures that have any."""
    os.makedirs(a.out_dir, exist_ok=True)
    for cap in a.captures:
        try:
            hs = handshakes(cap)
        except (OSError, ValueError) as e:
            note("%s: %s" % (cap, e))
            continue
        with open(os.path.join(a.out_dir, os.path.basename(cap) + ".hs.json"), "w") as f:
            json.dump(sorted([list(k), list(v)] for k, v in hs.items()), f)
        if hs:
            print(cap)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("truth")
    g.add_argument("dump")
    p = sub.add_parser("pmacct")
    p.add_argument("truth", nargs="+")
    p.add_argument("--csv", required=True)
    s = sub.add_parser("shared")
    s.add_argument("capture")
    s.add_argument("dump")
    s.add_argument("--rtp-streams")
    s.add_argument("--rtp-fields")
    s.add_argument("--handshakes", help="JSON written by the scan command")
    c = sub.add_parser("scan")
    c.add_argument("--out-dir", required=True)
    c.add_argument("captures", nargs="+")
    a = ap.parse_args()
    if a.cmd == "gen":
        cmd_gen(a)
    elif a.cmd == "pmacct":
        cmd_pmacct(a)
    elif a.cmd == "scan":
        cmd_scan(a)
    else:
        cmd_shared(a)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

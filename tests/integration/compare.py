#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compare collector records with ground truth, per uniflow 5-tuple.

  compare.py [--label L] [--ignore-bytes] TRUTH COLLECTED
      Both files hold lines "SRC DST SPORT DPORT PROTO PACKETS BYTES" ('#' lines ignored).
      Records with the same 5-tuple are summed on each side (a flow may be exported in
      several records). ICMP and ICMPv6 are compared with ports 0, because collectors put
      type/code in the destination port. Prints the differences and the totals; exits 1 on
      any mismatch, 0 when equal.

  compare.py --normalize nfdump|ipfixdump|pmacct < RAW > LINES
      Turn a collector's text output into the lines above (a biflow record with reverse
      counters gives a second, reversed line).
"""

import argparse
import collections
import ipaddress
import re
import sys

ICMP_PROTOS = (1, 58)


def norm_addr(s):
    return str(ipaddress.ip_address(s.strip()))


def to_int(s):
    s = s.strip()
    try:
        return int(s, 0) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return 0  # e.g. nfdump prints ICMP type.code in the port column


def emit(out, src, dst, sport, dport, proto, pkts, octets):
    out.write(f"{norm_addr(src)} {norm_addr(dst)} {sport} {dport} {proto} {pkts} {octets}\n")


# ---- normalizers ------------------------------------------------------------------------------

def normalize_nfdump(inp, out):
    """nfdump -q -N -6 -o 'fmt:%sa|%da|%sp|%dp|%pr|%ipkt|%ibyt|%opkt|%obyt'"""
    for line in inp:
        f = [x.strip() for x in line.split("|")]
        if len(f) < 9 or not f[0] or f[0].lower().startswith("src"):
            continue
        try:
            norm_addr(f[0])
        except ValueError:
            continue
        sp, dp, pr = to_int(f[2]), to_int(f[3]), to_int(f[4])
        ipkt, ibyt, opkt, obyt = (to_int(x) for x in f[5:9])
        if ipkt:
            emit(out, f[0], f[1], sp, dp, pr, ipkt, ibyt)
        if opkt:
            emit(out, f[1], f[0], dp, sp, pr, opkt, obyt)


FIELD_RE = re.compile(r"^\s*\(([^)]*)\)\s*(?:\(S\)\s*)?([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$")


def normalize_ipfixdump(inp, out):
    """ipfixDump text: '--- data record N ---' blocks of '(id) name : value' lines."""
    rec = None

    def flush(r):
        if not r:
            return
        src = r.get("sourceIPv4Address") or r.get("sourceIPv6Address")
        dst = r.get("destinationIPv4Address") or r.get("destinationIPv6Address")
        if not src or not dst:
            return  # options record or a template we do not meter
        sp = to_int(r.get("sourceTransportPort", "0"))
        dp = to_int(r.get("destinationTransportPort", "0"))
        pr = to_int(r.get("protocolIdentifier", "0"))
        pk = to_int(r.get("packetDeltaCount") or r.get("packetTotalCount") or "0")
        by = to_int(r.get("octetDeltaCount") or r.get("octetTotalCount") or "0")
        rpk = to_int(r.get("reversePacketDeltaCount") or r.get("reversePacketTotalCount") or "0")
        rby = to_int(r.get("reverseOctetDeltaCount") or r.get("reverseOctetTotalCount") or "0")
        if pk:
            emit(out, src, dst, sp, dp, pr, pk, by)
        if rpk:
            emit(out, dst, src, dp, sp, pr, rpk, rby)

    for line in inp:
        if line.startswith("--- "):
            flush(rec)
            rec = {} if "data record" in line else None
            continue
        if rec is None:
            continue
        m = FIELD_RE.match(line)
        if m:
            name, value = m.group(2), m.group(3)
            # the first occurrence wins (a template may carry an IE twice, e.g. outer/inner)
            rec.setdefault(name, value)
    flush(rec)


def normalize_pmacct(inp, out):
    """pmacct print plugin CSV (header once, then rows; columns named by the header)."""
    cols = None
    for line in inp:
        line = line.strip()
        if not line:
            continue
        f = line.split(",")
        if f[0].upper() in ("SRC_IP", "SRC_HOST") or not f[0][:1].isalnum() or "IP" in f[0]:
            cols = {name.upper(): i for i, name in enumerate(f)}
            continue
        if cols is None:
            continue
        try:
            src = f[cols["SRC_IP"]]
            dst = f[cols["DST_IP"]]
            sp = to_int(f[cols["SRC_PORT"]])
            dp = to_int(f[cols["DST_PORT"]])
            pr = to_int(f[cols["PROTOCOL"]])
            pk = to_int(f[cols["PACKETS"]])
            by = to_int(f[cols["BYTES"]])
            if pk:
                emit(out, src, dst, sp, dp, pr, pk, by)
        except (KeyError, IndexError, ValueError):
            continue


# ---- comparison -------------------------------------------------------------------------------

def load(path):
    flows = collections.defaultdict(lambda: [0, 0])
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            p = line.split()
            if len(p) != 7:
                raise ValueError(f"{path}:{n}: expected 7 fields: {line}")
            src, dst = norm_addr(p[0]), norm_addr(p[1])
            sp, dp, pr, pk, by = (int(x) for x in p[2:])
            if pr in ICMP_PROTOS:
                sp = dp = 0
            v = flows[(src, dst, sp, dp, pr)]
            v[0] += pk
            v[1] += by
    return flows


def fmt_key(k):
    return f"{k[0]} -> {k[1]} {k[2]}/{k[3]} proto {k[4]}"


def compare(truth_path, got_path, label, ignore_bytes, max_lines):
    truth = load(truth_path)
    got = load(got_path)
    idx = 1 if ignore_bytes else 2
    diffs = []
    for k in sorted(set(truth) | set(got)):
        t = truth.get(k)
        g = got.get(k)
        if t is None:
            diffs.append(f"  extra    {fmt_key(k)}: collector {g[0]} pkts {g[1]} bytes")
        elif g is None:
            diffs.append(f"  missing  {fmt_key(k)}: truth {t[0]} pkts {t[1]} bytes")
        elif t[:idx] != g[:idx]:
            diffs.append(f"  differs  {fmt_key(k)}: truth {t[0]} pkts {t[1]} bytes, "
                         f"collector {g[0]} pkts {g[1]} bytes")
    tp, tb = sum(v[0] for v in truth.values()), sum(v[1] for v in truth.values())
    gp, gb = sum(v[0] for v in got.values()), sum(v[1] for v in got.values())
    totals_ok = tp == gp and (ignore_bytes or tb == gb)
    name = f"{label}: " if label else ""
    if diffs or not totals_ok:
        print(f"{name}MISMATCH: {len(diffs)} of {len(truth)} truth flows differ "
              f"({len(got)} flows collected)")
        for d in diffs[:max_lines]:
            print(d)
        if len(diffs) > max_lines:
            print(f"  ... {len(diffs) - max_lines} more")
        print(f"  totals: truth {tp} pkts {tb} bytes, collector {gp} pkts {gb} bytes")
        return 1
    print(f"{name}OK: {len(truth)} flows, {tp} packets, {tb} bytes"
          + (" (bytes not compared)" if ignore_bytes else ""))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--normalize", choices=("nfdump", "ipfixdump", "pmacct"))
    ap.add_argument("--label", default="")
    ap.add_argument("--ignore-bytes", action="store_true",
                    help="compare packets only (e.g. softflowd counts frame bytes)")
    ap.add_argument("--max-lines", type=int, default=40)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.normalize:
        {"nfdump": normalize_nfdump, "ipfixdump": normalize_ipfixdump,
         "pmacct": normalize_pmacct}[a.normalize](sys.stdin, sys.stdout)
        return 0
    if len(a.files) != 2:
        ap.error("need TRUTH and COLLECTED")
    try:
        return compare(a.files[0], a.files[1], a.label, a.ignore_bytes, a.max_lines)
    except (OSError, ValueError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

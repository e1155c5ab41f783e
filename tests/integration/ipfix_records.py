#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Record-level checks on ipfixDump text output (failover, outage and DTLS tests).

A flow record is identified by all of its key and counter fields (flowId, addresses, ports,
protocol, flowStart/EndMilliseconds, packet and octet counts, reverse counts), so the same
record received twice (by two collectors, or twice by one) is recognised as a duplicate,
while two different records of one connection (uniflow directions, timeout splits) are not.
Options records (no addresses) are ignored.

  ipfix_records.py union [--bound N] [--out LINES] DUMP...
      Union of the records of every dump: prints per-dump counts and the number of
      duplicates; writes the unique records as "SRC DST SPORT DPORT PROTO PACKETS BYTES" lines
      (compare.py format) to LINES; exits 1 when duplicates exceed N (default: none allowed).

  ipfix_records.py order [--bound N] REF DUMP...
      The records of the DUMPs, concatenated in the order given, with repeats of a record
      already seen removed (at most N of them), must be exactly REF's records in REF's order.

  ipfix_records.py switchback REF PRIMARY1 STANDBY PRIMARY2
      Failover then switch-back: STANDBY and PRIMARY2 both received records, and once
      PRIMARY2 received its first record (in REF order) STANDBY received no later one.
"""

import argparse
import ipaddress
import re
import sys

FIELD_RE = re.compile(r"^\s*\(([^)]*)\)\s*(?:\(S\)\s*)?([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$")
KEY_FIELDS = ("flowId", "src", "dst", "sourceTransportPort", "destinationTransportPort",
              "protocolIdentifier", "flowStartMilliseconds", "flowEndMilliseconds",
              "packetDeltaCount", "octetDeltaCount", "reversePacketDeltaCount",
              "reverseOctetDeltaCount")


def parse(path):
    """Flow records of an ipfixDump text file, in file order, as tuples of KEY_FIELDS."""
    out = []
    rec = None

    def flush(r):
        if not r:
            return
        src = r.get("sourceIPv4Address") or r.get("sourceIPv6Address")
        dst = r.get("destinationIPv4Address") or r.get("destinationIPv6Address")
        if not src or not dst:
            return
        r["src"] = str(ipaddress.ip_address(src))
        r["dst"] = str(ipaddress.ip_address(dst))
        out.append(tuple(r.get(f, "") for f in KEY_FIELDS))

    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("--- "):
                flush(rec)
                rec = {} if "data record" in line else None
                continue
            if rec is None:
                continue
            m = FIELD_RE.match(line)
            if m:
                rec.setdefault(m.group(2), m.group(3))
    flush(rec)
    return out


def to_int(s):
    try:
        return int(s, 0)
    except ValueError:
        return 0


def lines_of(rec):
    """compare.py lines of one record (forward, and reverse when it has reverse packets)."""
    src, dst, sp, dp, pr = rec[1], rec[2], to_int(rec[3]), to_int(rec[4]), to_int(rec[5])
    res = []
    if to_int(rec[8]):
        res.append(f"{src} {dst} {sp} {dp} {pr} {to_int(rec[8])} {to_int(rec[9])}")
    if to_int(rec[10]):
        res.append(f"{dst} {src} {dp} {sp} {pr} {to_int(rec[10])} {to_int(rec[11])}")
    return res


def cmd_union(a):
    seen = set()
    dups = 0
    unique = []
    for d in a.dumps:
        recs = parse(d)
        n_dup = 0
        for r in recs:
            if r in seen:
                n_dup += 1
            else:
                seen.add(r)
                unique.append(r)
        dups += n_dup
        print(f"  {d}: {len(recs)} flow records, {n_dup} already received elsewhere")
    print(f"  union: {len(unique)} unique flow records, {dups} duplicate(s) (bound {a.bound})")
    if a.out:
        with open(a.out, "w") as f:
            for r in unique:
                for ln in lines_of(r):
                    f.write(ln + "\n")
    print(f"duplicates {dups}")
    return 0 if dups <= a.bound else 1


def cmd_order(a):
    ref = parse(a.ref)
    got = []
    seen = set()
    dups = 0
    for d in a.dumps:
        for r in parse(d):
            if r in seen:
                dups += 1
                continue
            seen.add(r)
            got.append(r)
    print(f"  reference {len(ref)} flow records; received {len(got)} unique, {dups} repeat(s) "
          f"(bound {a.bound})")
    print(f"duplicates {dups}")
    if len(set(ref)) != len(ref):
        print("  the reference itself repeats a record: cannot check order")
        return 1
    ok = True
    if got != ref:
        ok = False
        i = next((k for k in range(min(len(ref), len(got))) if ref[k] != got[k]),
                 min(len(ref), len(got)))
        print(f"  order/content differs from the reference at record {i}:")
        print(f"    reference: {ref[i] if i < len(ref) else '(end)'}")
        print(f"    received:  {got[i] if i < len(got) else '(end)'}")
        missing = len(set(ref) - set(got))
        extra = len(set(got) - set(ref))
        print(f"    missing {missing}, not in reference {extra}")
    if dups > a.bound:
        ok = False
    return 0 if ok else 1


def cmd_switchback(a):
    ref = parse(a.ref)
    index = {r: i for i, r in enumerate(ref)}
    p1, sb, p2 = (parse(x) for x in (a.primary1, a.standby, a.primary2))
    idx = {name: sorted(index.get(r, -1) for r in recs)
           for name, recs in (("primary", p1), ("standby", sb), ("primary again", p2))}
    for name, v in idx.items():
        span = f"reference records {v[0]}..{v[-1]}" if v else "nothing"
        print(f"  {name}: {len(v)} flow records, {span}")
    ok = True
    for name, v in idx.items():
        if -1 in v:
            print(f"  {name} received a record that is not in the reference")
            ok = False
    if not idx["standby"]:
        print("  the standby received no record: no failover happened")
        ok = False
    if not idx["primary again"]:
        print("  the restarted primary received no record: no switch-back")
        ok = False
    if ok:
        first_back = idx["primary again"][0]
        late = [i for i in idx["standby"] if i > first_back]
        if late:
            print(f"  {len(late)} record(s) went to the standby after the primary was back "
                  f"(first at reference record {late[0]}, primary again from {first_back})")
            ok = False
        if idx["primary again"][-1] != len(ref) - 1:
            print("  the last record did not go to the restarted primary")
            ok = False
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("union")
    u.add_argument("--bound", type=int, default=0)
    u.add_argument("--out")
    u.add_argument("dumps", nargs="+")
    o = sub.add_parser("order")
    o.add_argument("--bound", type=int, default=0)
    o.add_argument("ref")
    o.add_argument("dumps", nargs="+")
    s = sub.add_parser("switchback")
    for n in ("ref", "primary1", "standby", "primary2"):
        s.add_argument(n)
    a = ap.parse_args()
    return {"union": cmd_union, "order": cmd_order, "switchback": cmd_switchback}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())

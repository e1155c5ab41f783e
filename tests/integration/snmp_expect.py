#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check snmpwalk output (-On -Oe -Ot -Ox -Oq) of the FLOWPULSE-MIB and IPFIX-MIB subtrees
against the values scripts/fp_snmp_selftest.c fills, recomputed here from the formula in
that file's header comment (not from the program's output). Reason names and descriptions
come from the X-macro in src/decode/decode.h.

usage: snmp_expect.py ROOT START_MS PEN SEED WALKFILE...   (exit 0 = all equal)
"""
import datetime
import re
import sys


def parse_walk(paths):
    got = {}
    cur = None
    for path in paths:
        for line in open(path, encoding="utf-8", errors="replace"):
            line = line.rstrip("\n")
            if line.startswith("."):
                oid, _, val = line.partition(" ")
                cur = oid
                got[cur] = val
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


def date_and_time(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return bytes([t.year >> 8, t.year & 255, t.month, t.day, t.hour, t.minute, t.second,
                  (ms % 1000) // 100, ord("+"), 0, 0])


def reasons(root):
    text = open(root + "/src/decode/decode.h", encoding="utf-8").read()
    block = text[text.index("#define FP_DECODE_RESULTS(X)"):]
    block = block[:block.index("enum fp_decode_result")]
    return re.findall(r'X\((\w+),\s*"([^"]*)"\)', block)


def expected(root, start_ms, pen, S):
    e = {}
    R = f".1.3.6.1.4.1.{pen}.1.1"
    rs = reasons(root)
    nm = {r: 100 * r + S for r in range(1, len(rs))}
    e[R + ".1.1.0"] = f"FlowPulse-selftest {S}".encode()
    e[R + ".1.3.0"] = date_and_time(start_ms)
    e[R + ".1.6.0"] = sum(nm.values())
    e[R + ".1.7.0"] = 0
    e[R + ".1.8.0"] = 0
    for r in range(1, len(rs)):
        e[f"{R}.2.1.2.{r}"] = rs[r][0].encode()
        e[f"{R}.2.1.3.{r}"] = rs[r][1].encode()
        e[f"{R}.2.1.4.{r}"] = nm[r]
    for i in range(2):
        for col, v in ((2, 1000000 * (i + 1) + S), (3, 10 * (i + 1)), (4, 3 * (i + 1)),
                       (5, 7 * (i + 1))):
            e[f"{R}.3.1.{col}.{i}"] = v
    for i in range(3):
        n = i + 1
        vals = {2: 5000 * n + S, 3: 100 * n, 4: 400 * n, 5: 11 * n, 6: 12 * n, 7: 13 * n,
                8: 14 * n, 9: 15 * n, 10: 1000, 11: (100 * n * 100) // 1000}
        for col, v in vals.items():
            e[f"{R}.4.1.{col}.{i}"] = v
    colls = [
        ("udp://127.0.0.1:4739", 10, 1, 1, bytes([127, 0, 0, 1]), 4739, b""),
        ("tcp://[::1]:4740", 9, 2, 2, bytes(15) + b"\x01", 4740, b"connection refused"),
        ("file:/tmp/fp.ipfix", 10, 4, 0, b"", 0, b""),
    ]
    for c, (url, proto, tr, at, addr, port, err) in enumerate(colls):
        x = c + 1
        vals = {2: url.encode(), 3: proto, 4: tr, 5: at, 6: addr, 7: port, 8: 3,
                9: 10000 * x + S, 10: 100 * x, 11: 150000 * x, 12: c, 13: 3 * c,
                14: 4 + c + 2, 15: err, 16: 0}
        for col, v in vals.items():
            e[f"{R}.5.1.{col}.{x}"] = v
    for i in range(4):
        x = i + 1
        for col, v in ((2, f"class{i}".encode()), (3, 10 * x), (4, 1000 * x), (5, 2500 * i)):
            e[f"{R}.6.1.{col}.{x}"] = v

    M = ".1.3.6.1.2.1.193.1"
    for c, (url, proto, tr, at, addr, port, err) in enumerate(colls[:2]):
        x = c + 1
        udp = tr == 1
        vals = {2: 17 if udp else 6, 3: 0, 4: b"", 5: at, 6: addr, 7: 0, 8: port, 9: 0, 10: 1,
                11: 60 if udp else 0, 12: 60 if udp else 0, 13: 0, 14: 0, 15: proto, 16: 2}
        for col, v in vals.items():
            e[f"{M}.1.1.1.{col}.{x}"] = v
        vals = {1: 0, 2: 100 * x, 3: 150000 * x, 4: 100 * x, 5: 2 * c, 6: 10000 * x + S,
                7: 4 + c, 8: 2, 9: 0}
        for col, v in vals.items():
            e[f"{M}.2.1.1.{col}.{x}"] = v
        for t in range(2):
            tid = 256 + t
            ix = f"{x}.42.{tid}"
            e[f"{M}.1.2.1.3.{ix}"] = 2 + t
            e[f"{M}.1.2.1.4.{ix}"] = date_and_time(start_ms)
            e[f"{M}.2.2.1.1.{ix}"] = 777 * (t + 1) + c
            e[f"{M}.2.2.1.2.{ix}"] = 0
            nf = 3 if t else 5
            for f in range(nf):
                flags = 0x40 if (t == 0 and f < 2) else 0x80 if (t == 1 and f == 0) else 0
                length = 65535 if (t == 0 and f == 4) else 4 * (f + 1)
                ie_pen = 32473 if (t == 0 and f == 0) else 0
                d = f"{ix}.{f + 1}"
                e[f"{M}.1.3.1.2.{d}"] = 1 + f + 10 * t
                e[f"{M}.1.3.1.3.{d}"] = length
                e[f"{M}.1.3.1.4.{d}"] = ie_pen
                e[f"{M}.1.3.1.5.{d}"] = bytes([flags])
        e[f"{M}.1.4.1.2.1.1.{x}"] = 3  # two sessions in parallel
    e[f"{M}.1.5.1.2.1"] = 1
    e[f"{M}.1.5.1.3.1"] = 60
    e[f"{M}.1.5.1.4.1"] = 15
    e[f"{M}.2.3.1.1.1"] = 600
    e[f"{M}.2.3.1.2.1"] = 2400
    e[f"{M}.2.3.1.3.1"] = 999
    e[f"{M}.2.3.1.4.1"] = 0
    for i in range(2):
        for col, v in ((3, 42), (4, 0), (5, 0), (6, 1)):
            e[f"{M}.1.6.1.{col}.1.{i + 1}"] = v
    e[f"{M}.1.7.1.3.1.1.1"] = ".1.3.6.1.2.1.194.1.1.1"
    e[f"{M}.2.4.1.2.1.1.1"] = sum(nm.values())
    e[f"{M}.2.4.1.3.1.1.1"] = 0
    # values that move with every refresh: checked by relation below
    moving = [R + ".1.2.0", R + ".1.4.0", R + ".1.5.0", f"{M}.2.4.1.1.1.1.1"]
    return e, moving, sum(nm.values())


def main():
    root, start_ms, pen, S = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    got = parse_walk(sys.argv[5:])
    exp, moving, nm = expected(root, start_ms, pen, S)
    bad = 0
    for oid, v in exp.items():
        if oid not in got:
            print(f"missing {oid} (expected {v!r})")
            bad += 1
        elif got[oid] != v:
            print(f"wrong   {oid}: got {got[oid]!r}, expected {v!r}")
            bad += 1
    for oid in got:
        if oid not in exp and oid not in moving:
            print(f"extra   {oid} = {got[oid]!r}")
            bad += 1
    R = f".1.3.6.1.4.1.{pen}.1.1"
    up = got.get(R + ".1.2.0", -1)
    if not 360000 <= up <= 360000 + 100 * 600:
        print(f"fpUptime {up} not in [1 h, 1 h + 10 min]")
        bad += 1
    met = got.get(R + ".1.5.0", 0)
    if met <= 123456 or met > 123456 + 600:
        print(f"fpPacketsMetered {met} not 123456 + fills")
        bad += 1
    rec = got.get(R + ".1.4.0", 0)
    if abs(rec - met - nm) > 10:  # the walk may cross a refresh (+1 per fill)
        print(f"fpPacketsReceived {rec} != metered {met} + not metered {nm}")
        bad += 1
    obs = got.get(".1.3.6.1.2.1.193.1.2.4.1.1.1.1.1", 0)
    if not rec <= obs <= rec + 10:
        print(f"ipfixSelectionProcessStatsPacketsObserved {obs} != received {rec}")
        bad += 1
    print(f"{len(exp)} expected values, {len(got)} walked, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

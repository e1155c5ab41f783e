#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Feed the first N packets of a classic pcap into a FIFO (or file) at a given rate, then
keep it open until SIGTERM/SIGINT (a slow, still-running live source).

  feed_pcap.py IN.pcap OUT_FIFO --count N --pps R --copy PARTIAL.pcap --done FLAGFILE

PARTIAL.pcap receives exactly the bytes written (for ground truth); FLAGFILE is created
once the N packets are written.
"""
import argparse
import signal
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--pps", type=float, default=1000.0)
    ap.add_argument("--copy", required=True)
    ap.add_argument("--done", required=True)
    a = ap.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with open(a.inp, "rb") as f:
        head = f.read(24)
        magic = head[:4]
        if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1",
                         b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            print("feed_pcap.py: classic pcap only", file=sys.stderr)
            return 2
        endian = "<" if magic[0] in (0xD4, 0x4D) else ">"
        recs = []
        while len(recs) < a.count:
            h = f.read(16)
            if len(h) < 16:
                break
            caplen = struct.unpack(endian + "IIII", h)[2]
            recs.append(h + f.read(caplen))
    with open(a.out, "wb", buffering=0) as out, open(a.copy, "wb") as copy:
        out.write(head)
        copy.write(head)
        t0 = time.monotonic()
        for i, r in enumerate(recs):
            delay = t0 + i / a.pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out.write(r)
            copy.write(r)
        copy.flush()
        open(a.done, "w").close()
        while not stop:  # keep the writer end open: the reader sees no end of file
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())

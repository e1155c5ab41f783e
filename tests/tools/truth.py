#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Ground truth for FlowPulse tests: per-uniflow packet and byte counts of a capture.

An independent reader and decoder (Python 3 standard library only) of classic pcap and
pcapng files, written from the metering rules of src/decode/README.md and not from the C
decoder, so that the two can check each other.

Output (default): one line per uniflow key, sorted,
    SRC DST SPORT DPORT PROTO PACKETS BYTES
then totals as comment lines:
    # packets N            frames in the file
    # metered N
    # not_metered REASON N (one line per reason seen)
    # note NAME N          (frag_unmatched, l4_trunc, tunnel_inner_bad, ...)
With --csv: a CSV with a header line and no totals.
"""

import argparse
import collections
import ipaddress
import os
import struct
import sys

# Not-metered reasons (names follow enum fp_decode_result in src/decode/decode.h).
L2_TRUNC = "l2_trunc"
NOT_IP = "not_ip"
IP_TRUNC = "ip_trunc"
IP_HDR_BAD = "ip_hdr_bad"
IP6_EXT_BAD = "ip6_ext_bad"
LINK_UNSUPPORTED = "link_unsupported"

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
IP6_EXT = (0, 43, 60, 135, 139, 140)  # length in 8-octet units, +1
IP6_AH = 51                            # length in 4-octet units, +2
IP6_FRAG = 44
MAX_IP6_EXT = 8
MAX_MPLS = 8
MAX_TUNNEL_DEPTH = 4

LINK_ETHER, LINK_RAW, LINK_SLL, LINK_SLL2, LINK_NULL = range(5)
LINKTYPES = {1: LINK_ETHER, 101: LINK_RAW, 12: LINK_RAW, 14: LINK_RAW, 113: LINK_SLL,
             276: LINK_SLL2, 0: LINK_NULL}


class Bad(Exception):
    """A packet that is not metered; args[0] is the reason."""


# --------------------------------------------------------------------------------------------
# Capture file readers: yield (linktype, frame bytes).

def read_pcap(f, head):
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("not a pcap file")
    rest = f.read(20)
    if len(rest) < 20:
        raise ValueError("truncated pcap header")
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0xFFFF
    rec = struct.Struct(endian + "IIII")
    while True:
        h = f.read(16)
        if len(h) < 16:
            return
        _sec, _frac, caplen, _origlen = rec.unpack(h)
        data = f.read(caplen)
        if len(data) < caplen:
            return  # truncated last record: libpcap stops there too
        yield linktype, data


def read_pcapng(f, head):
    endian = "<"
    links = []
    hdr = head + f.read(4)
    while len(hdr) == 8:
        if hdr[:4] == b"\x0a\x0d\x0d\x0a":  # Section Header Block: byte order follows
            bom = f.read(4)
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
            blen = struct.unpack(endian + "I", hdr[4:8])[0]
            body = bom + f.read(blen - 12)
        else:
            blen = struct.unpack(endian + "I", hdr[4:8])[0]
            body = f.read(blen - 8) if blen >= 12 else b""
        if blen < 12 or len(body) < blen - 8:
            return  # truncated or corrupt block: stop as readers do
        btype = struct.unpack(endian + "I", hdr[:4])[0]
        body = body[:blen - 12]
        if btype == 1:  # Interface Description Block
            links.append(struct.unpack(endian + "H", body[:2])[0])
        elif btype == 6:  # Enhanced Packet Block
            ifid, _th, _tl, caplen, _orig = struct.unpack(endian + "IIIII", body[:20])
            yield (links[ifid] if ifid < len(links) else -1), body[20:20 + caplen]
        elif btype == 3:  # Simple Packet Block
            origlen = struct.unpack(endian + "I", body[:4])[0]
            yield (links[0] if links else -1), body[4:4 + origlen]
        elif btype == 2:  # obsolete Packet Block
            ifid, _drops, _th, _tl, caplen, _orig = struct.unpack(endian + "HHIIII", body[:20])
            yield (links[ifid] if ifid < len(links) else -1), body[20:20 + caplen]
        hdr = f.read(8)


def read_capture(path):
    with open(path, "rb") as f:
        head = f.read(4)
        if head == b"\x0a\x0d\x0d\x0a":
            yield from read_pcapng(f, head)
        else:
            yield from read_pcap(f, head)


# --------------------------------------------------------------------------------------------
# Decoder.

class Meta:
    """What one metered packet contributes."""
    __slots__ = ("src", "dst", "sport", "dport", "proto", "ip_bytes", "later_frag", "first_frag",
                 "frag_id", "depth")

    def __init__(self):
        self.sport = 0
        self.dport = 0
        self.later_frag = False
        self.first_frag = False
        self.frag_id = 0
        self.depth = 0


class Decoder:
    def __init__(self, decap=True, vxlan_port=4789, gtpu_port=2152):
        self.decap = decap
        self.vxlan_port = vxlan_port
        self.gtpu_port = gtpu_port
        self.notes = collections.Counter()

    # ---- link layer ----
    def frame(self, link, d):
        """Return Meta for a metered frame, raise Bad otherwise."""
        if link == LINK_ETHER:
            return self.ether(d, 0, 0)
        if link == LINK_RAW:
            return self.ip_by_nibble(d, 0, 0)
        if link == LINK_SLL:
            if len(d) < 16:
                raise Bad(L2_TRUNC)
            return self.ethertype(d, 16, struct.unpack_from(">H", d, 14)[0], 0)
        if link == LINK_SLL2:
            if len(d) < 20:
                raise Bad(L2_TRUNC)
            return self.ethertype(d, 20, struct.unpack_from(">H", d, 0)[0], 0)
        if link == LINK_NULL:
            if len(d) < 4:
                raise Bad(L2_TRUNC)
            fam = struct.unpack_from("<I", d, 0)[0]
            if fam & 0xFFFF0000:
                fam = struct.unpack_from(">I", d, 0)[0]
            if fam == 2:
                return self.ipv4(d, 4, 0)
            if fam in (24, 28, 30):
                return self.ipv6(d, 4, 0)
            raise Bad(NOT_IP)
        raise Bad(LINK_UNSUPPORTED)

    def ether(self, d, off, depth):
        if len(d) < off + 14:
            raise Bad(L2_TRUNC)
        return self.ethertype(d, off + 14, struct.unpack_from(">H", d, off + 12)[0], depth)

    def ethertype(self, d, off, et, depth):
        while et in VLAN_TPIDS:
            if len(d) < off + 4:
                raise Bad(L2_TRUNC)
            et = struct.unpack_from(">H", d, off + 2)[0]
            off += 4
        if et == 0x0800:
            return self.ipv4(d, off, depth)
        if et == 0x86DD:
            return self.ipv6(d, off, depth)
        if et in (0x8847, 0x8848):
            for _ in range(MAX_MPLS):
                if len(d) < off + 4:
                    raise Bad(L2_TRUNC)
                bos = d[off + 2] & 1
                off += 4
                if bos:
                    return self.ip_by_nibble(d, off, depth)
            raise Bad(NOT_IP)
        if et == 0x8864:
            if len(d) < off + 8:
                raise Bad(L2_TRUNC)
            ppp = struct.unpack_from(">H", d, off + 6)[0]
            if ppp == 0x0021:
                return self.ipv4(d, off + 8, depth)
            if ppp == 0x0057:
                return self.ipv6(d, off + 8, depth)
            raise Bad(NOT_IP)
        raise Bad(NOT_IP)

    def ip_by_nibble(self, d, off, depth):
        if len(d) <= off:
            raise Bad(IP_TRUNC)
        v = d[off] >> 4
        if v == 4:
            return self.ipv4(d, off, depth)
        if v == 6:
            return self.ipv6(d, off, depth)
        raise Bad(NOT_IP)

    # ---- network layer ----
    def ipv4(self, d, off, depth):
        if len(d) < off + 20:
            raise Bad(IP_TRUNC)
        vihl = d[off]
        if vihl >> 4 != 4:
            raise Bad(IP_HDR_BAD)
        hlen = (vihl & 0xF) * 4
        total = struct.unpack_from(">H", d, off + 2)[0]
        if hlen < 20 or total < hlen:
            raise Bad(IP_HDR_BAD)
        if len(d) < off + hlen:
            raise Bad(IP_TRUNC)
        m = Meta()
        m.src = bytes(d[off + 12:off + 16])
        m.dst = bytes(d[off + 16:off + 20])
        m.proto = d[off + 9]
        m.ip_bytes = total
        m.depth = depth
        frag = struct.unpack_from(">H", d, off + 6)[0]
        m.frag_id = struct.unpack_from(">H", d, off + 4)[0]
        foff = frag & 0x1FFF
        if foff:
            m.later_frag = True
        elif frag & 0x2000:
            m.first_frag = True
        end = min(len(d), off + total)
        return self.transport(d, off + hlen, end, m)

    def ipv6(self, d, off, depth):
        if len(d) < off + 40:
            raise Bad(IP_TRUNC)
        if d[off] >> 4 != 6:
            raise Bad(IP_HDR_BAD)
        plen = struct.unpack_from(">H", d, off + 4)[0]
        if plen == 0:
            raise Bad(IP_HDR_BAD)
        m = Meta()
        m.src = bytes(d[off + 8:off + 24])
        m.dst = bytes(d[off + 24:off + 40])
        m.ip_bytes = 40 + plen
        m.depth = depth
        end = min(len(d), off + 40 + plen)
        nh = d[off + 6]
        p = off + 40
        n_ext = 0
        while nh in IP6_EXT or nh == IP6_AH or nh == IP6_FRAG:
            n_ext += 1
            if n_ext > MAX_IP6_EXT:
                raise Bad(IP6_EXT_BAD)
            if nh == IP6_FRAG:
                if end < p + 8:
                    raise Bad(IP6_EXT_BAD)
                fo = struct.unpack_from(">H", d, p + 2)[0]
                m.frag_id = struct.unpack_from(">I", d, p + 4)[0]
                nh = d[p]
                p += 8
                if fo & 0xFFF8:
                    m.later_frag = True
                    break
                if fo & 1:
                    m.first_frag = True
                continue
            if end < p + 2:
                raise Bad(IP6_EXT_BAD)
            hl = (d[p + 1] + 2) * 4 if nh == IP6_AH else (d[p + 1] + 1) * 8
            if end < p + hl:
                raise Bad(IP6_EXT_BAD)
            nh = d[p]
            p += hl
        m.proto = nh
        return self.transport(d, p, end, m)

    # ---- transport and tunnels ----
    def transport(self, d, l4, end, m):
        if m.later_frag:
            return m  # no L4, never decapsulated
        proto = m.proto
        need = {6: 20, 17: 8, 136: 8, 132: 12, 33: 12}.get(proto)
        if need is not None:
            if end < l4 + need:
                self.notes["l4_trunc"] += 1
                return m
            m.sport, m.dport = struct.unpack_from(">HH", d, l4)
            if proto == 6 and (d[l4 + 12] >> 4) < 5:
                self.notes["l4_hdr_bad"] += 1
        if not self.decap or m.depth >= MAX_TUNNEL_DEPTH:
            if self.decap and self.is_tunnel(d, l4, end, m):
                self.notes["tunnel_depth"] += 1
            return m
        inner = None
        try:
            inner = self.tunnel(d, l4, end, m)
        except Bad:
            self.notes["tunnel_inner_bad"] += 1
            return m
        return inner if inner is not None else m

    def is_tunnel(self, d, l4, end, m):
        if m.proto in (4, 41, 47):
            return True
        return m.proto == 17 and (m.dport == self.vxlan_port or self.gtpu_port in (m.sport, m.dport))

    def tunnel(self, d, l4, end, m):
        """Inner Meta when this packet is a tunnel we decapsulate, None otherwise.
        Raise Bad when the inner packet is malformed."""
        depth = m.depth + 1
        inner = d[:end]
        if m.proto == 4:
            return self.ipv4(inner, l4, depth)
        if m.proto == 41:
            return self.ipv6(inner, l4, depth)
        if m.proto == 47:
            return self.gre(inner, l4, end, depth)
        if m.proto == 17 and end >= l4 + 8:
            if m.dport == self.vxlan_port:
                p = l4 + 8
                if end < p + 8 or not d[p] & 0x08:
                    return None
                return self.ether(inner, p + 8, depth)
            if self.gtpu_port in (m.sport, m.dport):
                return self.gtpu(inner, l4 + 8, end, depth)
        return None

    def gre(self, d, p, end, depth):
        if end < p + 4:
            return None
        flags, proto = struct.unpack_from(">HH", d, p)
        ver = flags & 7
        if ver == 0:
            if flags & 0x4000:  # routing present
                return None
            p += 4 + 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
            if proto == 0x0800:
                return self.ipv4(d, p, depth)
            if proto == 0x86DD:
                return self.ipv6(d, p, depth)
            if proto == 0x6558:
                return self.ether(d, p, depth)
            return None
        if ver == 1:
            # PPTP enhanced GRE: 8-byte header, optional sequence (S) and ack (A) numbers.
            p += 8 + 4 * bool(flags & 0x1000) + 4 * bool(flags & 0x0080)
            if end < p + 1:
                return None
            if end >= p + 2 and d[p] == 0xFF and d[p + 1] == 0x03:
                p += 2
            if end < p + 1:
                return None
            if d[p] & 1:  # protocol field compressed to one byte
                ppp = d[p]
                p += 1
            else:
                if end < p + 2:
                    return None
                ppp = struct.unpack_from(">H", d, p)[0]
                p += 2
            if ppp in (0x0021, 0x21):
                return self.ipv4(d, p, depth)
            if ppp in (0x0057, 0x57):
                return self.ipv6(d, p, depth)
            return None
        return None

    def gtpu(self, d, p, end, depth):
        if end < p + 8:
            return None
        flags, mtype = d[p], d[p + 1]
        if flags >> 5 != 1 or mtype != 255:
            return None
        q = p + 8
        if flags & 0x07:
            if end < q + 4:
                raise Bad(IP_TRUNC)
            nxt = d[q + 3]
            q += 4
            if flags & 0x04:
                while nxt:
                    if end < q + 1:
                        raise Bad(IP_TRUNC)
                    ln = d[q] * 4
                    if ln == 0 or end < q + ln:
                        raise Bad(IP_TRUNC)
                    nxt = d[q + ln - 1]
                    q += ln
        return self.ip_by_nibble(d, q, depth)


def fmt_addr(b):
    return str(ipaddress.ip_address(b))


def compute(path, decap=True):
    dec = Decoder(decap=decap)
    flows = collections.defaultdict(lambda: [0, 0])
    frag_ports = {}
    totals = collections.Counter()
    not_metered = collections.Counter()
    for link, data in read_capture(path):
        totals["packets"] += 1
        lt = LINKTYPES.get(link)
        try:
            if lt is None:
                raise Bad(LINK_UNSUPPORTED)
            m = dec.frame(lt, memoryview(data))
        except Bad as e:
            not_metered[e.args[0]] += 1
            continue
        except (struct.error, IndexError):
            not_metered["decoder_error"] += 1
            continue
        fkey = (m.src, m.dst, m.proto, m.frag_id)
        if m.first_frag:
            frag_ports[fkey] = (m.sport, m.dport)
        elif m.later_frag:
            ports = frag_ports.get(fkey)
            if ports is None:
                dec.notes["frag_unmatched"] += 1
            else:
                m.sport, m.dport = ports
        key = (m.src, m.dst, m.sport, m.dport, m.proto)
        f = flows[key]
        f[0] += 1
        f[1] += m.ip_bytes
        totals["metered"] += 1
        totals["bytes"] += m.ip_bytes
    return flows, totals, not_metered, dec.notes


def write_report(out, flows, totals, not_metered, notes, csv):
    rows = sorted(((fmt_addr(k[0]), fmt_addr(k[1]), k[2], k[3], k[4], v[0], v[1])
                   for k, v in flows.items()),
                  key=lambda r: (r[4], ipaddress.ip_address(r[0]).version, r[0], r[1], r[2], r[3]))
    if csv:
        out.write("src,dst,sport,dport,proto,packets,bytes\n")
        for r in rows:
            out.write(",".join(str(x) for x in r) + "\n")
        return
    for r in rows:
        out.write(" ".join(str(x) for x in r) + "\n")
    out.write(f"# packets {totals['packets']}\n")
    out.write(f"# metered {totals['metered']}\n")
    out.write(f"# bytes {totals['bytes']}\n")
    out.write(f"# flows {len(rows)}\n")
    for reason, n in sorted(not_metered.items()):
        out.write(f"# not_metered {reason} {n}\n")
    for note, n in sorted(notes.items()):
        out.write(f"# note {note} {n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+", metavar="CAPTURE")
    ap.add_argument("--decap", choices=("inner", "outer"), default="inner")
    ap.add_argument("--csv", action="store_true", help="CSV output without totals")
    ap.add_argument("--out-dir", help="write DIR/<capture file name>.truth for each capture "
                    "(one process for many captures) instead of standard output")
    a = ap.parse_args()
    if len(a.captures) > 1 and not a.out_dir:
        ap.error("several captures need --out-dir")
    rc = 0
    for cap in a.captures:
        try:
            result = compute(cap, a.decap == "inner")
        except (OSError, ValueError) as e:
            print(f"truth.py: {cap}: {e}", file=sys.stderr)
            rc = 2
            continue
        if a.out_dir:
            path = os.path.join(a.out_dir, os.path.basename(cap) + ".truth")
            with open(path + ".tmp", "w") as f:
                write_report(f, *result, a.csv)
            os.replace(path + ".tmp", path)
        else:
            write_report(sys.stdout, *result, a.csv)
    return rc


if __name__ == "__main__":
    sys.exit(main())

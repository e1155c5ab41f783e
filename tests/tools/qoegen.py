#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""QoE test captures with known truth (Python 3 standard library only).

Writes three classic pcap files and, next to each, a JSON file with the expected QoE values
of every flow (what src/qoe/README.md defines, computed here from the scenario parameters,
not from FlowPulse):

    qoe_tcp.pcap  (nanosecond pcap, magic 0xa1b23c4d)  TCP sessions seen from a probe between
                  client and server: handshake delays, server think time, data/ACK RTT,
                  retransmissions, reordering, zero windows, refused / unanswered / Karn
                  handshakes, TLS 1.2 and 1.3 handshakes.
    qoe_dns.pcap  (microsecond pcap)  DNS queries with set response delays and rcodes, a
                  retry, an unanswered query, a response with a wrong ID.
    qoe_rtp.pcap  (nanosecond pcap)  RTP streams (PT 0 at 8 kHz, dynamic PT 111 at 48 kHz,
                  PT 8 behind TURN ChannelData) with a set delay-variation pattern, lost and
                  reordered sequence numbers, a duplicate, a sequence-number wrap. The
                  expected jitter is an independent floating-point RFC 3550 A.8 computation.

Probe model (TCP): client --c-- PROBE --s-- server, one-way delays c and s (they may change
between exchanges). Seen at the probe: SYN at t, SYN/ACK at t + 2s, ACK at t + 2s + 2c, so
SND = t(SYN/ACK) - t(SYN) = 2s and CND = t(ACK) - t(SYN/ACK) = 2c. A request passing the
probe at t is ACKed at t + 2s and answered at t + 2s + think, so ART = 2s + think and the
server delay (ART - SND) = think. RTT samples follow the README's classic sampling: the first
new data segment of a direction while none is timed, ended by the first ACK of the other
direction that covers it; no sample when the timed range was retransmitted (Karn).

Truth JSON: {"capture": NAME, "flows": [{"name", "proto", "ipv", "client", "server",
"cport", "sport", "conn": {IE: [value, tol]}, "dir": [{IE: [value, tol]}, {...} | null],
"valid_set": [bits], "valid_clear": [bits], "splt": [[dir, len, iat_us], ...]}]} where tol is
"exact", "time" (1 % or 10 us), "jitter" (1 %, at least 1 us) or "mos" (E-model, see
qoe_check.py). "conn" values are expected in both uniflow records of the connection; "dir"[d]
in the uniflow record whose source is side d (0 = initiator).
"""

import argparse
import json
import math
import os
import random
import struct
import sys

BASE_NS = 1_700_000_000 * 10**9  # capture start (2023-11-14)
MS = 1_000_000                    # ns
US = 1_000
SPLT_N = 20
SPLT_IAT_MAX_US = 255 << 15


# --------------------------------------------------------------------------------------------
# Packet building

def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_bytes(addr):
    if ":" in addr:
        import ipaddress
        return ipaddress.IPv6Address(addr).packed
    return bytes(int(x) for x in addr.split("."))


class PacketWriter:
    """Collects (t_ns, frame) and writes a classic pcap (ns or us resolution)."""

    def __init__(self):
        self.pkts = []
        self.ip_id = 1

    def add(self, t_ns, src, dst, proto, l4):
        s, d = ip_bytes(src), ip_bytes(dst)
        if len(s) == 4:
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ip_id, 0x4000, 64,
                              proto, 0, s, d)
            self.ip_id = (self.ip_id + 1) & 0xFFFF
            hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
            pseudo = s + d + struct.pack("!BBH", 0, proto, len(l4))
            eth = 0x0800
        else:
            hdr = struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, s, d)
            pseudo = s + d + struct.pack("!IxxxB", len(l4), proto)
            eth = 0x86DD
        ck_off = 16 if proto == 6 else 6
        ck = csum(pseudo + l4)
        if proto == 17 and ck == 0:
            ck = 0xFFFF
        l4 = l4[:ck_off] + struct.pack("!H", ck) + l4[ck_off + 2:]
        frame = (b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" +
                 struct.pack("!H", eth) + hdr + l4)
        self.pkts.append((t_ns, len(self.pkts), frame))

    def write(self, path, nanosecond):
        self.pkts.sort()
        with open(path, "wb") as f:
            magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
            f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1))
            for t, _, fr in self.pkts:
                sec, frac = divmod(t, 10**9)
                if not nanosecond:
                    frac //= 1000
                f.write(struct.pack("<IIII", sec, frac, len(fr), len(fr)))
                f.write(fr)


def tcp_seg(sport, dport, seq, ack, flags, win, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                       flags, win, 0, 0) + payload


def udp_dgram(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


# --------------------------------------------------------------------------------------------
# Truth helpers

class Flow:
    """One connection: its packets go to the writer, its truth to the JSON."""

    def __init__(self, w, name, proto, client, server, cport, sport):
        self.w, self.name, self.proto = w, name, proto
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.conn = {}
        self.dir = [{}, {}]
        self.valid_set, self.valid_clear = set(), set()
        self.splt = []  # (t_ns, dir, len) of every packet (sorted at the end)
        self.has_dir1 = False

    def emit(self, t, d, l4, plen):
        src, dst = (self.client, self.server) if d == 0 else (self.server, self.client)
        self.w.add(t, src, dst, self.proto, l4)
        self.splt.append((t, d, plen))
        if d == 1:
            self.has_dir1 = True

    def truth(self):
        pk = sorted(self.splt)[:SPLT_N]
        splt, prev = [], None
        for t, d, n in pk:
            iat = 0.0 if prev is None else (t - prev) / 1000.0
            splt.append([d, min(n, 2047), min(iat, SPLT_IAT_MAX_US)])
            prev = t
        return {
            "name": self.name, "proto": self.proto, "ipv": 6 if ":" in self.client else 4,
            "client": self.client, "server": self.server, "cport": self.cport,
            "sport": self.sport, "conn": self.conn,
            "dir": [self.dir[0], self.dir[1] if self.has_dir1 else None],
            "valid_set": sorted(self.valid_set), "valid_clear": sorted(self.valid_clear),
            "splt": splt,
        }


def us(ns):
    return ns / 1000.0


# --------------------------------------------------------------------------------------------
# TCP

class Tcp(Flow):
    def __init__(self, w, rng, name, client, server, cport, sport, isn=None):
        super().__init__(w, name, 6, client, server, cport, sport)
        self.rng = rng
        # next new sequence number per side
        self.nxt = list(isn) if isn else [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        self.win = [64240, 65160]
        self.rtt = [[], []]     # expected RTT samples (ns) per direction
        self.retx = [[0, 0], [0, 0]]
        self.ooo = [0, 0]
        self.zw = [[0, 0], [0, 0]]  # events, ns

    def jit(self):
        """Sub-microsecond noise: real captures are not aligned on microseconds."""
        return self.rng.randrange(0, 1000)

    def seg(self, t, d, flags, n=0, payload=None, seq=None, ack=None, win=None):
        """Emit one segment; new data (seq None) advances the sequence space."""
        if payload is None:
            payload = bytes((0x41 + (i % 26)) for i in range(n))
        n = len(payload)
        if seq is None:
            seq = self.nxt[d]
            self.nxt[d] = (self.nxt[d] + n + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        if ack is None:
            ack = self.nxt[1 - d] if flags & ACK else 0
        if win is None:
            win = self.win[d]
        sp, dp = (self.cport, self.sport) if d == 0 else (self.sport, self.cport)
        self.emit(t, d, tcp_seg(sp, dp, seq, ack, flags, win, payload), n)
        return seq

    def handshake(self, t, s, c):
        self.seg(t, 0, SYN)
        self.seg(t + 2 * s, 1, SYN | ACK)
        self.seg(t + 2 * s + 2 * c, 0, ACK)
        self.conn["fpServerNwDelayUs"] = [us(2 * s), "time"]
        self.conn["fpClientNwDelayUs"] = [us(2 * c), "time"]
        self.conn["fpTcpOutcome"] = [4, "exact"]
        self.valid_set |= {0, 1, 5}
        return t + 2 * s + 2 * c

    def exchange(self, t, s, c, req, resp, think, gap=12 * US):
        """Request (one segment per length in req, back to back) ACKed by the server after
        2s, response segments (resp) after think, ACKed by the client 2c after the last.
        Returns (time after the exchange, t first request byte, t first response byte)."""
        t_req = t
        for i, n in enumerate(req):
            self.seg(t + i * gap, 0, ACK | PSH, n if isinstance(n, int) else 0,
                     None if isinstance(n, int) else n)
        t_last = t + (len(req) - 1) * gap
        t_sack = t_last + 2 * s
        self.seg(t_sack, 1, ACK)
        self.rtt[0].append(t_sack - t_req)
        t_resp = t_sack + think
        for i, n in enumerate(resp):
            self.seg(t_resp + i * gap, 1, ACK | PSH, n if isinstance(n, int) else 0,
                     None if isinstance(n, int) else n)
        t_cack = t_resp + (len(resp) - 1) * gap + 2 * c
        self.seg(t_cack, 0, ACK)
        self.rtt[1].append(t_cack - t_resp)
        return t_cack + 1 * MS + self.jit(), t_req, t_resp

    def close(self, t, s, c):
        self.seg(t, 0, FIN | ACK)
        self.seg(t + 2 * s, 1, FIN | ACK)
        self.seg(t + 2 * s + 2 * c, 0, ACK)

    def finish(self, rtt=True):
        for d in (0, 1):
            tgt = self.dir[d]
            if rtt and self.rtt[d]:
                r = self.rtt[d]
                tgt["fpRttMinUs"] = [us(min(r)), "time"]
                tgt["fpRttMaxUs"] = [us(max(r)), "time"]
                tgt["fpRttMeanUs"] = [us(sum(r) / len(r)), "time"]
                tgt["fpRttSamples"] = [len(r), "exact"]
            tgt["fpRetransPackets"] = [self.retx[d][0], "exact"]
            tgt["fpRetransOctets"] = [self.retx[d][1], "exact"]
            tgt["fpOutOfOrderPackets"] = [self.ooo[d], "exact"]
            tgt["fpZeroWindowEvents"] = [self.zw[d][0], "exact"]
            tgt["fpZeroWindowUs"] = [us(self.zw[d][1]), "time"]
        if rtt:
            (self.valid_set if self.rtt[0] else self.valid_clear).add(3)
        self.valid_clear.add(4)  # uniflow records never carry reverse values
        self.valid_clear.add(9)


def tls_record(ctype, body, ver=0x0303):
    return struct.pack("!BHH", ctype, ver, len(body)) + body


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    exts = sni_ext + struct.pack("!HHH", 0x000D, 4, 2) + b"\x04\x03"
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) + b"\x13\x01\xc0\x2f"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return tls_record(0x16, hs, 0x0301)


def server_hello():
    body = b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x00"
    return tls_record(0x16, b"\x02" + struct.pack("!I", len(body))[1:] + body)


def gen_tcp(rng):
    w = PacketWriter()
    flows = []
    t0 = BASE_NS + 100 * MS

    # 1. basic: delays, think time, RTT from stop-and-wait exchanges with varying paths.
    f = Tcp(w, rng, "tcp_basic", "10.1.0.1", "192.0.2.10", 40001, 8080)
    s, c, think = 1_608_537, 741_519, 25_000_311
    t = f.handshake(t0, s, c) + 20 * US
    t, t_req, t_resp = f.exchange(t, s, c, [400], [1400, 600], think)
    f.conn["fpAppResponseTimeUs"] = [us(t_resp - t_req), "time"]
    f.conn["fpServerDelayUs"] = [us(think), "time"]
    f.valid_set.add(2)
    for s_k, c_k in ((2_100_000, 900_000), (5_004_000, 650_000), (1_950_500, 2_400_250)):
        t, _, _ = f.exchange(t, s_k + f.jit(), c_k + f.jit(), [300], [1000], 3 * MS)
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 2. the same over IPv6 with other delays and a long think time.
    f = Tcp(w, rng, "tcp_basic6", "2001:db8:1::1", "2001:db8:2::10", 40002, 8080)
    s, c, think = 11_250_400, 3_333_100, 180_000_700
    t = f.handshake(t0 + 50 * MS, s, c) + 15 * US
    t, t_req, t_resp = f.exchange(t, s, c, [250], [1200], think)
    f.conn["fpAppResponseTimeUs"] = [us(t_resp - t_req), "time"]
    f.conn["fpServerDelayUs"] = [us(think), "time"]
    f.valid_set.add(2)
    t, _, _ = f.exchange(t, s + 400_000, c - 100_000, [100], [500], 1 * MS)
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 3. retransmissions in both directions (RTO, fast retransmit, repeated, FIN).
    # Both sequence spaces wrap around 2^32 during the flow.
    f = Tcp(w, rng, "tcp_retx", "10.1.0.2", "192.0.2.11", 40003, 8080,
            isn=(0xFFFFFC00, 0xFFFFF000))
    s, c = 4_000_200, 1_000_300
    t = f.handshake(t0 + 100 * MS, s, c) + 10 * US
    t, _, _ = f.exchange(t, s, c, [200], [800], 2 * MS)
    # client request lost after the probe, resent by RTO 200 ms later (Karn: no sample)
    seq = f.seg(t, 0, ACK | PSH, 700)
    f.seg(t + 200 * MS, 0, ACK | PSH, 700, seq=seq)
    f.retx[0][0] += 1
    f.retx[0][1] += 700
    t = t + 200 * MS + 2 * s
    f.seg(t, 1, ACK)
    t_r = t + 1 * MS
    f.seg(t_r, 1, ACK | PSH, 900)
    f.seg(t_r + 2 * c, 0, ACK)
    f.rtt[1].append(2 * c)
    t = t_r + 2 * c + 2 * MS
    # server response A B C, A lost after the probe: dup ACKs, fast retransmit of A
    f.seg(t, 0, ACK | PSH, 150)
    f.seg(t + 2 * s, 1, ACK)
    f.rtt[0].append(2 * s)
    ta = t + 2 * s + 1 * MS
    seq_a = f.seg(ta, 1, ACK | PSH, 1400)
    f.seg(ta + 12 * US, 1, ACK | PSH, 1400)
    f.seg(ta + 24 * US, 1, ACK | PSH, 1000)
    f.seg(ta + 12 * US + 2 * c, 0, ACK, ack=seq_a)
    f.seg(ta + 24 * US + 2 * c, 0, ACK, ack=seq_a)
    tr = ta + 24 * US + 2 * c + 2 * s
    f.seg(tr, 1, ACK | PSH, 1400, seq=seq_a)
    f.retx[1][0] += 1
    f.retx[1][1] += 1400
    f.seg(tr + 2 * c, 0, ACK)
    t = tr + 2 * c + 3 * MS
    # server segment D lost twice after the probe (two RTO retransmissions)
    f.seg(t, 0, ACK | PSH, 120)
    f.seg(t + 2 * s, 1, ACK)
    f.rtt[0].append(2 * s)
    td = t + 2 * s + 1 * MS
    seq_d = f.seg(td, 1, ACK | PSH, 512)
    f.seg(td + 220 * MS, 1, ACK | PSH, 512, seq=seq_d)
    f.seg(td + 660 * MS, 1, ACK | PSH, 512, seq=seq_d)
    f.retx[1][0] += 2
    f.retx[1][1] += 1024
    f.seg(td + 660 * MS + 2 * c, 0, ACK)
    t = td + 660 * MS + 2 * c + 5 * MS
    # client FIN lost after the probe and resent (retransmitted FIN: 0 bytes)
    seq_f = f.seg(t, 0, FIN | ACK)
    f.seg(t + 200 * MS, 0, FIN | ACK, seq=seq_f)
    f.retx[0][0] += 1
    t += 200 * MS
    f.seg(t + 2 * s, 1, FIN | ACK)
    f.seg(t + 2 * s + 2 * c, 0, ACK)
    f.finish()
    flows.append(f)

    # 4. reordering before the probe (out-of-order fills within one RTT) and a late fill.
    f = Tcp(w, rng, "tcp_ooo", "10.1.0.3", "192.0.2.12", 40004, 8080)
    s, c = 3_000_100, 1_500_050
    t = f.handshake(t0 + 150 * MS, s, c) + 10 * US
    t, _, _ = f.exchange(t, s, c, [300], [700], 2 * MS)
    # client A, B seen as B then A (150 us later): one out-of-order packet
    seq_a = f.nxt[0]
    f.nxt[0] = (seq_a + 600) & 0xFFFFFFFF
    seq_b = f.seg(t, 0, ACK | PSH, 500)
    f.seg(t + 150 * US, 0, ACK | PSH, 600, seq=seq_a)
    f.ooo[0] += 1
    f.seg(t + 150 * US + 2 * s, 1, ACK)
    f.rtt[0].append(150 * US + 2 * s)  # timed segment: B, the first new data seen
    tr = t + 150 * US + 2 * s + 2 * MS
    # server X, Y, Z seen as X, Z, Y (Y 180 us after Z): one out-of-order packet
    seq_x = f.seg(tr, 1, ACK | PSH, 1400)
    seq_y = f.nxt[1]
    f.nxt[1] = (seq_y + 1400) & 0xFFFFFFFF
    f.seg(tr + 12 * US, 1, ACK | PSH, 800)
    f.seg(tr + 192 * US, 1, ACK | PSH, 1400, seq=seq_y)
    f.ooo[1] += 1
    f.seg(tr + 192 * US + 2 * c, 0, ACK)
    f.rtt[1].append(192 * US + 2 * c)
    t = tr + 192 * US + 2 * c + 2 * MS
    # client C lost before the probe, D seen, C resent 200 ms later: a retransmission
    seq_c = f.nxt[0]
    f.nxt[0] = (seq_c + 300) & 0xFFFFFFFF
    f.seg(t, 0, ACK | PSH, 300)
    f.seg(t + 2 * s, 1, ACK, ack=seq_c)
    f.seg(t + 200 * MS, 0, ACK | PSH, 300, seq=seq_c)
    f.retx[0][0] += 1
    f.retx[0][1] += 300
    t += 200 * MS + 2 * s
    f.seg(t, 1, ACK)
    tr = t + 1 * MS
    f.seg(tr, 1, ACK | PSH, 400)
    f.seg(tr + 2 * c, 0, ACK)
    f.rtt[1].append(2 * c)
    t = tr + 2 * c + 2 * MS
    # server P, Q seen as Q then P (90 us later)
    f.seg(t, 0, ACK | PSH, 80)
    f.seg(t + 2 * s, 1, ACK)
    f.rtt[0].append(2 * s)
    tr = t + 2 * s + 1 * MS
    seq_p = f.nxt[1]
    f.nxt[1] = (seq_p + 1000) & 0xFFFFFFFF
    f.seg(tr, 1, ACK | PSH, 1200)
    f.seg(tr + 90 * US, 1, ACK | PSH, 1000, seq=seq_p)
    f.ooo[1] += 1
    f.seg(tr + 90 * US + 2 * c, 0, ACK)
    f.rtt[1].append(90 * US + 2 * c)
    t = tr + 90 * US + 2 * c + 3 * MS
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 5. zero windows, window probes and keep-alives (none of them retransmissions).
    f = Tcp(w, rng, "tcp_zw", "10.1.0.4", "192.0.2.13", 40005, 8080)
    s, c = 2_000_000, 500_000
    t = f.handshake(t0 + 200 * MS, s, c) + 10 * US
    t, _, _ = f.exchange(t, s, c, [100], [1400], 1 * MS)
    for episode in (450 * MS + 123_456, 300 * MS + 77_001):
        f.seg(t, 1, ACK | PSH, 1400)
        t1 = t + 2 * c
        f.seg(t1, 0, ACK, win=0)                         # client window closes
        p1, p2, p3 = episode // 3, 2 * episode // 3, 9 * episode // 10
        f.seg(t1 + p1, 1, ACK, 1, seq=f.nxt[1])          # 1-byte probe at snd_max
        f.seg(t1 + p1 + 2 * c, 0, ACK, win=0)
        f.seg(t1 + p2, 1, ACK, seq=f.nxt[1] - 1)         # Linux-style probe (no data)
        f.seg(t1 + p2 + 2 * c, 0, ACK, win=0)
        f.seg(t1 + p3, 1, ACK, 1, seq=f.nxt[1])          # probe again
        f.seg(t1 + p3 + 2 * c, 0, ACK, win=0)
        t2 = t1 + episode
        f.seg(t2, 0, ACK)                                # window update
        f.zw[0][0] += 1
        f.zw[0][1] += episode
        t = t2 + 2 * s
        f.seg(t, 1, ACK | PSH, 1400)                     # continues at snd_max: new data
        f.seg(t + 2 * c, 0, ACK)
        t += 2 * c + 5 * MS
    # client keep-alives (seq = snd_max - 1, 1 byte and 0 bytes)
    f.seg(t, 0, ACK, 1, seq=f.nxt[0] - 1)
    f.seg(t + 2 * s, 1, ACK)
    f.seg(t + 50 * MS, 0, ACK, seq=f.nxt[0] - 1)
    f.seg(t + 50 * MS + 2 * s, 1, ACK)
    t += 60 * MS
    # server window closes while the client uploads
    f.seg(t, 0, ACK | PSH, 1000)
    t3 = t + 2 * s
    f.seg(t3, 1, ACK, win=0)
    f.seg(t3 + 60 * MS, 0, ACK, 1, seq=f.nxt[0])
    f.seg(t3 + 60 * MS + 2 * s, 1, ACK, win=0)
    ep = 120 * MS + 4_321
    f.seg(t3 + ep, 1, ACK)
    f.zw[1][0] += 1
    f.zw[1][1] += ep
    t = t3 + ep + 2 * c
    f.seg(t, 0, ACK | PSH, 1000)
    f.seg(t + 2 * s, 1, ACK)
    f.close(t + 2 * s + 1 * MS, s, c)
    f.finish(rtt=False)
    flows.append(f)

    # 5b. the client's window is still closed when the capture ends: the zero-window time
    # runs to the flow's last packet.
    f = Tcp(w, rng, "tcp_zw_open", "10.1.0.12", "192.0.2.21", 40013, 8080)
    s, c = 1_000_000, 3_000_000
    t = f.handshake(t0 + 220 * MS, s, c) + 10 * US
    t, _, _ = f.exchange(t, s, c, [100], [1400], 1 * MS)
    f.seg(t, 1, ACK | PSH, 1400)
    t1 = t + 2 * c
    f.seg(t1, 0, ACK, win=0)
    f.seg(t1 + 200 * MS, 1, ACK, 1, seq=f.nxt[1])
    t_end = t1 + 200 * MS + 2 * c
    f.seg(t_end, 0, ACK, win=0)
    f.zw[0] = [1, t_end - t1]
    f.finish(rtt=False)
    flows.append(f)

    # 6. refused: RST answers the SYN.
    f = Tcp(w, rng, "tcp_refused", "10.1.0.5", "192.0.2.14", 40006, 8081)
    s = 1_234_567
    f.seg(t0 + 250 * MS, 0, SYN)
    f.seg(t0 + 250 * MS + 2 * s, 1, RST | ACK)
    f.conn["fpTcpOutcome"] = [2, "exact"]
    f.valid_set |= {5}
    f.valid_clear |= {0, 1, 2}
    f.finish(rtt=False)
    flows.append(f)

    # 7. unanswered SYN (two retries: retransmitted SYNs, 0 octets).
    f = Tcp(w, rng, "tcp_unanswered", "10.1.0.6", "192.0.2.15", 40007, 8082)
    seq = f.seg(t0 + 300 * MS, 0, SYN)
    f.seg(t0 + 1300 * MS, 0, SYN, seq=seq)
    f.seg(t0 + 3300 * MS, 0, SYN, seq=seq)
    f.retx[0][0] += 2
    f.conn["fpTcpOutcome"] = [1, "exact"]
    f.valid_set |= {5}
    f.valid_clear |= {0, 1, 2}
    f.finish(rtt=False)
    flows.append(f)

    # 8. Karn on the SYN: retransmitted SYN -> no SND; CND measured.
    f = Tcp(w, rng, "tcp_karn_syn", "10.1.0.7", "192.0.2.16", 40008, 8080)
    s, c = 2_500_000, 800_000
    t = t0 + 350 * MS
    seq = f.seg(t, 0, SYN)
    f.seg(t + 1000 * MS, 0, SYN, seq=seq)
    f.retx[0][0] += 1
    t += 1000 * MS
    f.seg(t + 2 * s, 1, SYN | ACK)
    f.seg(t + 2 * s + 2 * c, 0, ACK)
    f.conn["fpClientNwDelayUs"] = [us(2 * c), "time"]
    f.conn["fpServerNwDelayUs"] = [0, "exact"]
    f.conn["fpServerDelayUs"] = [0, "exact"]  # needs SND
    f.conn["fpTcpOutcome"] = [4, "exact"]
    f.valid_set |= {1, 5}
    f.valid_clear |= {0}
    t = t + 2 * s + 2 * c + 10 * US
    t, _, _ = f.exchange(t, s, c, [200], [300], 1 * MS)
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 9. Karn on the SYN/ACK: the client's ACK was lost before the probe, the server resent
    # its SYN/ACK -> SND measured, no CND.
    f = Tcp(w, rng, "tcp_karn_synack", "10.1.0.8", "192.0.2.17", 40009, 8080)
    s, c = 1_100_000, 2_200_000
    t = t0 + 400 * MS
    f.seg(t, 0, SYN)
    sa = f.seg(t + 2 * s, 1, SYN | ACK)
    f.seg(t + 2 * s + 1000 * MS, 1, SYN | ACK, seq=sa)
    f.retx[1][0] += 1
    t = t + 2 * s + 1000 * MS + 2 * c
    f.seg(t, 0, ACK)
    f.conn["fpServerNwDelayUs"] = [us(2 * s), "time"]
    f.conn["fpClientNwDelayUs"] = [0, "exact"]
    f.conn["fpTcpOutcome"] = [4, "exact"]
    f.valid_set |= {0, 5}
    f.valid_clear |= {1}
    t, _, _ = f.exchange(t + 10 * US, s, c, [200], [300], 1 * MS)
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 10. incomplete handshake: SYN/ACK but no ACK.
    f = Tcp(w, rng, "tcp_incomplete", "10.1.0.9", "192.0.2.18", 40010, 8080)
    s = 3_210_000
    f.seg(t0 + 450 * MS, 0, SYN)
    f.seg(t0 + 450 * MS + 2 * s, 1, SYN | ACK)
    f.conn["fpServerNwDelayUs"] = [us(2 * s), "time"]
    f.conn["fpTcpOutcome"] = [3, "exact"]
    f.valid_set |= {0, 5}
    f.valid_clear |= {1, 2}
    f.finish(rtt=False)
    flows.append(f)

    # 11. TLS 1.2: ClientHello -> ... -> first client application-data record.
    f = Tcp(w, rng, "tls12", "10.1.0.10", "192.0.2.19", 40011, 443)
    s, c = 6_000_300, 1_200_700
    t = f.handshake(t0 + 500 * MS, s, c) + 30 * US
    t_ch = t
    t, t_req, t_resp = f.exchange(t, s, c, [client_hello("qoe-e2e.example")],
                                  [server_hello() + tls_record(0x16, bytes(1200)),
                                   tls_record(0x16, bytes(700))], 4 * MS)
    f.conn["fpAppResponseTimeUs"] = [us(t_resp - t_ch), "time"]
    f.conn["fpServerDelayUs"] = [us(4 * MS), "time"]
    cke = (tls_record(0x16, b"\x10" + bytes(69)) + tls_record(0x14, b"\x01") +
           tls_record(0x16, bytes(40)))
    t, _, _ = f.exchange(t, s, c, [cke], [tls_record(0x14, b"\x01") + tls_record(0x16, bytes(40))],
                         1 * MS)
    t_app = t
    t, _, _ = f.exchange(t, s, c, [tls_record(0x17, bytes(300))], [tls_record(0x17, bytes(900))],
                         10 * MS)
    f.conn["fpTlsHandshakeUs"] = [us(t_app - t_ch), "time"]
    f.valid_set |= {2, 6}
    f.close(t, s, c)
    f.finish()
    flows.append(f)

    # 12. TLS 1.3: the client's CCS + encrypted Finished (0x17) ends the handshake.
    f = Tcp(w, rng, "tls13", "10.1.0.11", "192.0.2.20", 40012, 443)
    s, c = 9_100_000, 400_900
    t = f.handshake(t0 + 550 * MS, s, c) + 25 * US
    t_ch = t
    t, t_req, t_resp = f.exchange(t, s, c, [client_hello("tls13.example")],
                                  [server_hello() + tls_record(0x14, b"\x01") +
                                   tls_record(0x17, bytes(1000)), tls_record(0x17, bytes(300))],
                                  2 * MS)
    f.conn["fpAppResponseTimeUs"] = [us(t_resp - t_ch), "time"]
    t_fin = t
    t, _, _ = f.exchange(t, s, c, [tls_record(0x14, b"\x01") + tls_record(0x17, bytes(53)) +
                                   tls_record(0x17, bytes(200))],
                         [tls_record(0x17, bytes(1300))], 20 * MS)
    f.conn["fpTlsHandshakeUs"] = [us(t_fin - t_ch), "time"]
    f.valid_set |= {2, 6}
    f.close(t, s, c)
    f.finish()
    flows.append(f)
    return w, flows


# --------------------------------------------------------------------------------------------
# DNS

def dns_msg(qid, qr, rcode, name, qtype=1, answer=None):
    flags = (0x8000 | 0x0100 | 0x0080 | rcode) if qr else 0x0100
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack("!HH", qtype, 1)
    an = b""
    if answer is not None:
        an = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(answer)) + answer
    return struct.pack("!HHHHHH", qid, flags, 1, 1 if an else 0, 0, 0) + q + an


def gen_dns(rng):
    w = PacketWriter()
    flows = []
    t0 = BASE_NS + 200 * MS
    cases = [
        # name, client, server, cport, delays of responses (None = none), rcode, retry, wrong
        ("dns_ok", "10.2.0.1", "192.0.2.53", 50001, 12_345_000, 0, False, False),
        ("dns_nxdomain", "10.2.0.2", "192.0.2.53", 50002, 48_211_000, 3, False, False),
        ("dns_servfail", "10.2.0.3", "192.0.2.53", 50003, 3_100_000, 2, False, False),
        ("dns_unanswered", "10.2.0.4", "192.0.2.53", 50004, None, 0, True, False),
        ("dns_retry", "10.2.0.5", "192.0.2.53", 50005, 7_500_000, 0, True, False),
        ("dns_wrong_id", "10.2.0.6", "192.0.2.53", 50006, 5_250_000, 0, False, True),
        ("dns6_ok", "2001:db8:1::53", "2001:db8:2::53", 50007, 20_020_000, 0, False, False),
    ]
    for k, (name, cl, sv, cport, delay, rcode, retry, wrong) in enumerate(cases):
        f = Flow(w, name, 17, cl, sv, cport, 53)
        qid = rng.randrange(1, 0xFFFF)
        qn = "host%d.qoe-e2e.example" % k
        qtype = 28 if ":" in cl else 1
        t = t0 + k * 37 * MS
        q = dns_msg(qid, False, 0, qn, qtype)
        f.emit(t, 0, udp_dgram(cport, 53, q), len(q))
        t_first = t
        if retry:
            t += 1000 * MS
            f.emit(t, 0, udp_dgram(cport, 53, q), len(q))
        if wrong:
            r = dns_msg((qid + 1) & 0xFFFF, True, 0, qn, qtype, bytes(4))
            f.emit(t + 2 * MS, 1, udp_dgram(53, cport, r), len(r))
        f.conn["fpDnsRetries"] = [1 if retry else 0, "exact"]
        f.valid_set.add(7)
        if delay is None:
            f.conn["fpDnsAnswered"] = [0, "exact"]
            f.conn["fpDnsResponseUs"] = [0, "exact"]
        else:
            ans = None if rcode else (bytes(16) if qtype == 28 else bytes([192, 0, 2, k]))
            r = dns_msg(qid, True, rcode, qn, qtype, ans)
            f.emit(t + delay, 1, udp_dgram(53, cport, r), len(r))
            f.conn["fpDnsAnswered"] = [1, "exact"]
            f.conn["fpDnsRcode"] = [rcode, "exact"]
            f.conn["fpDnsResponseUs"] = [us(t + delay - t_first), "time"]
        f.valid_clear |= {0, 1, 5, 8}
        flows.append(f)
    return w, flows


# --------------------------------------------------------------------------------------------
# RTP

def rfc3550_jitter(arrivals, clock):
    """Floating-point RFC 3550 A.8 over (arrival ns, rtp timestamp) in arrival order.
    Returns (final J, max J) in microseconds."""
    j = jmax = 0.0
    for (r0, s0), (r1, s1) in zip(arrivals, arrivals[1:]):
        ds = ((s1 - s0 + (1 << 31)) % (1 << 32)) - (1 << 31)  # signed 32-bit difference
        d = (r1 - r0) / 1000.0 - ds * 1e6 / clock
        j += (abs(d) - j) / 16.0
        jmax = max(jmax, j)
    return j, jmax


def emodel(latency_us, jitter_us, loss_frac):
    """Simplified E-model of standards.md (as documented in src/qoe/README.md)."""
    el = latency_us / 1000.0 + 2.0 * jitter_us / 1000.0 + 10.0
    r = 93.2 - el / 40.0 if el < 160 else 93.2 - (el - 120.0) / 10.0
    r -= 2.5 * loss_frac * 100.0
    if r <= 0:
        mos = 1.0
    elif r >= 100:
        mos = 4.5
    else:
        mos = max(1.0, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))
    return mos, r


class RtpStream:
    """One RTP stream: packet i sent at t0 + i * ptime, arrives after delay(i)."""

    def __init__(self, pt, clock, ptime_ns, n, seq0, ts0, ssrc):
        self.pt, self.clock, self.ptime, self.n = pt, clock, ptime_ns, n
        self.seq0, self.ts0, self.ssrc = seq0, ts0, ssrc
        self.lost, self.late, self.dups = set(), {}, set()

    def packets(self, t0, delay, rng, chan=None):
        """[(arrival ns, seq, ts, payload bytes)] in arrival order, and the truth."""
        spt = self.clock * self.ptime // 10**9
        arr = []
        for i in range(self.n):
            if i in self.lost:
                continue
            seq = (self.seq0 + i) & 0xFFFF
            ts = (self.ts0 + i * spt) & 0xFFFFFFFF
            a = t0 + i * self.ptime + delay(i) + rng.randrange(0, 1000)
            if i in self.late:
                a = t0 + (i + 1) * self.ptime + delay(i + 1) + self.late[i]
            arr.append((a, i, seq, ts))
            if i in self.dups:
                arr.append((a + 300 * US, i, seq, ts))
        arr.sort()
        out = []
        for a, i, seq, ts in arr:
            hdr = struct.pack("!BBHII", 0x80, self.pt, seq, ts, self.ssrc)
            pl = hdr + bytes((i + k) & 0xFF for k in range(160))
            if chan is not None:
                pl = struct.pack("!HH", chan, len(pl)) + pl
            out.append((a, pl))
        # Truth (README: the stream is accepted on its 2nd packet, which becomes base_seq;
        # received/jitter count from there; duplicates do not feed the jitter).
        seen, feed, reordered, max_i = set(), [], 0, None
        for a, i, seq, ts in arr:
            if i < 1:
                continue
            if i in seen:
                continue  # duplicate
            seen.add(i)
            if max_i is not None and i < max_i:
                reordered += 1
            max_i = i if max_i is None else max(max_i, i)
            feed.append((a, ts))
        expected = max_i - 1 + 1
        lost = expected - len(seen)
        if self.pt >= 96:
            # README §3: dynamic PT, clock inferred from dts/dt at the first packet >= 8
            # packets and >= 0.5 s after feed[0]; the jitter starts there.
            k = next(k for k in range(8, len(feed))
                     if feed[k][0] // 1000 - feed[0][0] // 1000 >= 500000)
            dts = (feed[k][1] - feed[0][1]) % (1 << 32)
            rate = dts * 1e6 / (feed[k][0] // 1000 - feed[0][0] // 1000)
            assert abs(rate - self.clock) <= 0.02 * self.clock, "clock would not be inferred"
            feed = feed[k - 1:]
        j, jmax = rfc3550_jitter(feed, self.clock)
        mos, r = emodel(0, j, lost / expected)
        truth = {
            "fpRtpJitterUs": [j, "jitter"], "fpRtpJitterMaxUs": [jmax, "jitter"],
            "fpRtpLost": [lost, "exact"], "fpRtpExpected": [expected, "exact"],
            "fpRtpReordered": [reordered, "exact"],
            "fpRtpMosX100": [mos * 100, "mos"], "fpRtpRFactorX100": [r * 100, "rfactor"],
        }
        return out, truth


def gen_rtp(rng):
    w = PacketWriter()
    flows = []
    t0 = BASE_NS + 300 * MS

    # PCMU both ways: uniform 0..4 ms extra delay, 4 lost, one late packet, one duplicate.
    f = Flow(w, "rtp_pcmu", 17, "10.3.0.1", "10.3.0.2", 40000, 50000)
    a = RtpStream(0, 8000, 20 * MS, 500, 1000, 123_456, 0x11223344)
    a.lost = {57, 58, 130, 333}
    a.late = {200: 700 * US}
    a.dups = {420}
    d_a = {i: (rng.randrange(0, 4000) * US if i >= 3 else 0) for i in range(a.n + 1)}
    pk, truth = a.packets(t0, lambda i: 5 * MS + d_a[i], rng)
    for t, pl in pk:
        f.emit(t, 0, udp_dgram(40000, 50000, pl), len(pl))
    f.dir[0] = truth
    b = RtpStream(0, 8000, 20 * MS, 400, 30000, 999_000, 0x55667788)
    pk, truth = b.packets(t0 + 7 * MS,
                          lambda i: int(3 * MS + 3 * MS * math.sin(i / 7.0)) if i >= 3 else 0,
                          rng)
    for t, pl in pk:
        f.emit(t, 1, udp_dgram(50000, 40000, pl), len(pl))
    f.dir[1] = truth
    f.valid_set |= {8}
    f.valid_clear |= {0, 5, 7, 9}
    flows.append(f)

    # Opus-like dynamic PT 111 (48 kHz): sequence and timestamp wrap, 10 lost, 2 late.
    f = Flow(w, "rtp_opus", 17, "10.3.0.3", "10.3.0.4", 41000, 51000)
    o = RtpStream(111, 48000, 20 * MS, 450, 65300, 0xFFFF0000, 0x0BADF00D)
    o.lost = set(rng.sample(range(5, 440), 10))
    cand = [i for i in range(10, 440) if not {i, i + 1} & o.lost]
    o.late = {cand[40]: 2 * MS, cand[200]: 900 * US}
    d_o = {i: (rng.randrange(0, 12000) * US if i >= 3 else 0) for i in range(o.n + 1)}
    pk, truth = o.packets(t0 + 3 * MS, lambda i: 8 * MS + d_o[i], rng)
    for t, pl in pk:
        f.emit(t, 0, udp_dgram(41000, 51000, pl), len(pl))
    f.dir[0] = truth
    f.valid_set |= {8}
    f.valid_clear |= {9}
    flows.append(f)

    # PCMA behind TURN ChannelData (client -> relay on 3478), one loss.
    f = Flow(w, "rtp_turn", 17, "10.3.0.5", "198.51.100.7", 42000, 3478)
    p = RtpStream(8, 8000, 20 * MS, 300, 7, 0, 0xCAFEBABE)
    p.lost = {150}
    d_p = {i: (rng.randrange(0, 2000) * US if i >= 3 else 0) for i in range(p.n + 1)}
    pk, truth = p.packets(t0 + 11 * MS, lambda i: 2 * MS + d_p[i], rng, chan=0x4001)
    for t, pl in pk:
        f.emit(t, 0, udp_dgram(42000, 3478, pl), len(pl))
    f.dir[0] = truth
    f.valid_set |= {8}
    flows.append(f)
    return w, flows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = random.Random(a.seed)
    for name, gen, ns in (("qoe_tcp", gen_tcp, True), ("qoe_dns", gen_dns, False),
                          ("qoe_rtp", gen_rtp, True)):
        w, flows = gen(rng)
        cap = os.path.join(a.out_dir, name + ".pcap")
        w.write(cap, ns)
        with open(os.path.join(a.out_dir, name + ".json"), "w") as f:
            json.dump({"capture": name + ".pcap", "nanosecond": ns,
                       "flows": [fl.truth() for fl in flows]}, f, indent=1)
        print("%s: %d packets, %d flows" % (cap, len(w.pkts), len(flows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Classification evaluation (`make eval`).

Runs FlowPulse (-r) over every capture of the shared corpus, exporting IPFIX to a file,
decodes the records with `ipfixDump --rfc5610` (our enterprise IEs are named by the RFC 5610
type records FlowPulse sends), matches each exported flow to the reference flow of
reference/NAME.out by 5-tuple (either direction), maps the reference application to a class
with the taxonomy and prints per-class precision and recall, the flow accuracy and the
byte-weighted accuracy among reference flows whose class is known.

Reference application: the part after the dot in "TLS.YouTube", else the master protocol;
class from the taxonomy's application rows, else its "category:" rows (the flow's [cat: X]),
else unknown (such flows are left out of the scores). A reference flow FlowPulse did not
export counts as wrong (class "missing"). Bytes: the reference's bytes (both directions).

Usage: eval.py --flowpulse build/flowpulse [--pcaps DIR] [--taxonomy FILE] [--strict]
                [--only NAME ...] [--details]
Exit: 0; 1 with --strict when below target (90 % of flows, 95 % of bytes); 2 on error;
77 when the corpus is absent (skipped).
"""
import argparse
import collections
import ipaddress
import os
import re
import subprocess
import sys
import tempfile

TARGET_FLOWS = 90.0
TARGET_BYTES = 95.0

REF_LINE = re.compile(
    r'^\s*\d+\s+(\S+)\s+(\S+)\s+<->\s+(\S+)\s+(?:\[VLAN: [^\]]*\])?\[proto: ([^\]]*)\]')
REF_CAT = re.compile(r'\[cat: ([^/\]]+)/\d+\]')
REF_BYTES = re.compile(r'\[(\d+) pkts/(\d+) bytes <-> (\d+) pkts/(\d+) bytes\]')
PROTO_NUM = {'TCP': 6, 'UDP': 17, 'ICMP': 1, 'ICMPV6': 58, 'IGMP': 2, 'GRE': 47, 'SCTP': 132,
             'ESP': 50, 'AH': 51, 'OSPF': 89, 'VRRP': 112, 'PIM': 103}


def load_taxonomy(path):
    apps, cats = {}, {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            name, cls = line.split()[:2]
            if name.startswith('category:'):
                cats.setdefault(name[9:], cls)
            else:
                apps.setdefault(name, cls)
    return apps, cats


def endpoint(s):
    """'1.2.3.4:80' or '[2001:db8::1]:443' -> (ipaddress, port)."""
    if s.startswith('['):
        host, port = s[1:].rsplit(']:', 1)
    else:
        host, port = s.rsplit(':', 1)
    return ipaddress.ip_address(host), int(port)


def flow_key(proto, a, b):
    return (proto,) + tuple(sorted([a, b], key=lambda e: (e[0].version, int(e[0]), e[1])))


def load_reference(path, apps, cats):
    flows = {}
    with open(path, errors='replace') as f:
        for line in f:
            m = REF_LINE.match(line)
            if not m:
                continue
            proto_s, a, b, proto = m.groups()
            num = PROTO_NUM.get(proto_s.upper())
            if num is None:
                try:
                    num = int(proto_s)
                except ValueError:
                    continue
            try:
                ea, eb = endpoint(a), endpoint(b)
            except ValueError:
                continue
            name = proto.split('/', 1)[1] if '/' in proto else proto
            app = name.split('.', 1)[1] if '.' in name else name
            cm = REF_CAT.search(line)
            cat = cm.group(1) if cm else ''
            cls = apps.get(app) or cats.get(cat) or 'unknown'
            bm = REF_BYTES.search(line)
            nbytes = int(bm.group(2)) + int(bm.group(4)) if bm else 0
            key = flow_key(num, ea, eb)
            if key in flows:  # same 5-tuple twice (e.g. VLANs): keep the larger
                if flows[key]['bytes'] >= nbytes:
                    continue
            flows[key] = {'app': app, 'cat': cat, 'cls': cls, 'bytes': nbytes, 'line': name}
    return flows


FIELD = re.compile(r'^\s*\((?:\d+/)?\d+\)\s+(\S+)\s*:\s*(.*)$')


def parse_ipfixdump(text):
    """Yield dicts of the fields we need from `ipfixDump --data` output."""
    rec = None
    for line in text.splitlines():
        if line.startswith('--- data record'):
            if rec:
                yield rec
            rec = {}
            continue
        if rec is None:
            continue
        m = FIELD.match(line)
        if not m:
            continue
        name, val = m.groups()
        if val.startswith('(len:'):
            val = val.split(')', 1)[1][1:] if ')' in val else ''
        if name not in rec:
            rec[name] = val.strip()
    if rec:
        yield rec


def load_exported(text):
    flows = {}
    for r in parse_ipfixdump(text):
        src = r.get('sourceIPv4Address') or r.get('sourceIPv6Address')
        dst = r.get('destinationIPv4Address') or r.get('destinationIPv6Address')
        if not src or not dst or 'protocolIdentifier' not in r:
            continue
        try:
            a = (ipaddress.ip_address(src), int(r.get('sourceTransportPort', 0)))
            b = (ipaddress.ip_address(dst), int(r.get('destinationTransportPort', 0)))
            proto = int(r['protocolIdentifier'])
        except ValueError:
            continue
        key = flow_key(proto, a, b)
        f = flows.setdefault(key, {'cls': None, 'app': '', 'method': '', 'bytes': 0, 'sni': '',
                                   'dns': ''})
        f['bytes'] += int(r.get('octetDeltaCount', 0) or 0)
        cls = r.get('fpAppClass')
        if cls and (f['cls'] in (None, 'unknown')):
            f['cls'] = cls
            f['app'] = r.get('fpAppName', '')
            f['sni'] = r.get('fpServerName', '')
            f['dns'] = r.get('fpDnsName', '')
    return flows


def run_capture(fp, pcap, outdir):
    out = os.path.join(outdir, os.path.basename(pcap) + '.ipfix')
    cmd = [fp, '-r', pcap, '-e', 'file:' + out, '-o', 'control.socket=', '-o',
           'log.level=error', '-o', 'capture.progress=false']
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write('eval: %s failed (%d): %s\n' % (' '.join(cmd), p.returncode,
                                                        p.stderr.strip()[-400:]))
        return None
    d = subprocess.run(['ipfixDump', '--rfc5610', '--data', '--in', out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors='replace')
    if d.returncode != 0:
        sys.stderr.write('eval: ipfixDump %s failed: %s\n' % (out, d.stderr.strip()[-400:]))
        return None
    return d.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--flowpulse', default='build/flowpulse')
    ap.add_argument('--pcaps', default='../shared/pcaps')
    ap.add_argument('--taxonomy', default='../shared/taxonomy/app-classes.tsv')
    ap.add_argument('--strict', action='store_true')
    ap.add_argument('--details', action='store_true', help='list every wrong flow')
    ap.add_argument('--only', nargs='*', default=None, help='capture names to run')
    args = ap.parse_args()

    refdir = os.path.join(args.pcaps, 'reference')
    if not os.path.isdir(refdir) or not os.path.isfile(args.taxonomy):
        print('eval: SKIP: %s or %s is absent' % (refdir, args.taxonomy))
        return 77
    apps, cats = load_taxonomy(args.taxonomy)
    caps = sorted(n for n in os.listdir(args.pcaps) if n.endswith(('.pcap', '.pcapng')))
    if args.only:
        caps = [c for c in caps if c in args.only or os.path.splitext(c)[0] in args.only]

    classes = collections.Counter()
    tp, fp_, fn = collections.Counter(), collections.Counter(), collections.Counter()
    n_known = n_ok = 0
    b_known = b_ok = 0
    n_missing = n_ref_unknown = 0
    wrong = []
    per_cap = []
    with tempfile.TemporaryDirectory(prefix='fp_eval.') as tmp:
        for cap in caps:
            refp = os.path.join(refdir, cap + '.out')
            if not os.path.isfile(refp):
                continue
            ref = load_reference(refp, apps, cats)
            text = run_capture(args.flowpulse, os.path.join(args.pcaps, cap), tmp)
            if text is None:
                return 2
            got = load_exported(text)
            c_known = c_ok = 0
            for key, r in ref.items():
                if r['cls'] == 'unknown':
                    n_ref_unknown += 1
                    continue
                g = got.get(key)
                mine = (g['cls'] or 'unknown') if g else 'missing'
                n_known += 1
                c_known += 1
                b_known += r['bytes']
                classes[r['cls']] += 1
                if g is None:
                    n_missing += 1
                if mine == r['cls']:
                    n_ok += 1
                    c_ok += 1
                    b_ok += r['bytes']
                    tp[r['cls']] += 1
                else:
                    fn[r['cls']] += 1
                    fp_[mine] += 1
                    wrong.append((cap, r, g, key))
            per_cap.append((cap, c_ok, c_known))

    print('FlowPulse classification evaluation (%d captures, reference: nDPI reader output)'
          % len(per_cap))
    print()
    print('%-16s %7s %7s %7s %9s %7s' % ('class', 'flows', 'right', 'wrong', 'precision',
                                          'recall'))
    names = sorted(set(classes) | set(fp_) - {'missing', 'unknown'})
    for c in names:
        t = tp[c]
        prec = '%.1f%%' % (100.0 * t / (t + fp_[c])) if t + fp_[c] else '-'
        rec = '%.1f%%' % (100.0 * t / (t + fn[c])) if t + fn[c] else '-'
        print('%-16s %7d %7d %7d %9s %7s' % (c, classes[c], t, fn[c], prec, rec))
    if fp_['unknown'] or fp_['missing']:
        print('%-16s %7s %7s %7d' % ('(said unknown)', '', '', fp_['unknown']))
        print('%-16s %7s %7s %7d' % ('(not exported)', '', '', fp_['missing']))
    print()
    acc = 100.0 * n_ok / n_known if n_known else 0.0
    bacc = 100.0 * b_ok / b_known if b_known else 0.0
    print('flows with a known reference class: %d (left out: %d unknown in the reference)'
          % (n_known, n_ref_unknown))
    print('flow accuracy:          %6.2f%%  (%d/%d; target %.0f%%)' % (acc, n_ok, n_known,
                                                                      TARGET_FLOWS))
    print('byte-weighted accuracy: %6.2f%%  (%d/%d bytes; target %.0f%%)' % (bacc, b_ok,
                                                                           b_known,
                                                                           TARGET_BYTES))
    if args.details:
        print()
        print('per capture (right/known):')
        for cap, ok, k in per_cap:
            if ok != k:
                print('  %-32s %d/%d' % (cap, ok, k))
        print()
        print('wrong flows: capture | reference line -> class | FlowPulse app -> class '
              '[sni | dns]')
        for cap, r, g, key in sorted(wrong, key=lambda w: -w[1]['bytes']):
            mine = ('%s -> %s [%s | %s]' % (g['app'], g['cls'], g['sni'], g['dns'])
                    if g else 'not exported')
            print('  %s | %s (%s) -> %s | %s | %s:%s | %d bytes'
                  % (cap, r['line'], r['cat'], r['cls'], mine, key[1][0], key[1][1],
                     r['bytes']))
    ok = acc >= TARGET_FLOWS and bacc >= TARGET_BYTES
    print('result: %s' % ('target met' if ok else 'BELOW TARGET'))
    return 1 if (args.strict and not ok) else 0


if __name__ == '__main__':
    sys.exit(main())

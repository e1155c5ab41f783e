#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Live reload of classification rules and QoE thresholds under traffic. A ~30 s capture
# (build/fpgen --profile mixapp: real TLS SNI, QUIC, DNS and HTTP payloads) is replayed at
# twice its timing (-o capture.pace=2) with -c FILE exporting biflow records to a file
# collector. During the run the file gets, in one SIGHUP:
#   - an operator rule: server names ending in "com" -> application "TestApp", class gaming;
#   - new gaming thresholds: game_latency good 0.01 s, bad 0.05 s, weight 5; retx_permille
#     weight 0 (removed).
# Then an invalid threshold (good = bad) is sent and must be refused with FILE:LINE.
# The records, decoded by `ipfixDump --rfc5610`, must show:
#   1. every TLS flow to a ".com" name decided (first client payload, from the SPLT) after
#      the reload is TestApp/gaming, every one decided before kept its application, and
#      some of those ended after the reload (decided flows keep their decision);
#   2. the score of every TestApp record equals the score computed here from its exported
#      metrics with the documented formula and the new gaming table (and differs from the
#      old table's for most), the score of every web-class record equals the web table's;
#   3. the totals equal the ground truth (tests/tools/truth.py): no flow lost or split.
. "$(dirname "$0")/lib.sh"
fp_lib_init reload_rules
fp_need ipfixDump "$FP_PY"
fp_need_flowpulse

fails=0
ok() { fp_pass "$1"; }
ko() { fp_fail "$1"; fails=$((fails + 1)); }

CAP=$FP_TMP/mixapp.pcap
"$FP_BUILD/fpgen" --profile mixapp --seed 11 --flows 900 --pps 220 -o "$CAP" 2>/dev/null ||
    { fp_fail "fpgen failed"; exit 1; }
fp_truth "$CAP" "$FP_TMP/truth" || { fp_fail "truth.py failed"; exit 1; }

CONF=$FP_TMP/flowpulse.conf
OUT=$FP_TMP/out.ipfix
write_conf() { # WITH_RULES BAD
    {
        echo "export = { collectors = ( { url = \"file:$OUT\"; biflow = true; } ); };"
        if [ "$1" = 1 ]; then
            echo 'classify = { rules = ( { name_suffix = "com"; app = "TestApp"; class = "gaming"; } ); };'
            echo 'qoe = { thresholds = ('
            echo '    { class = "gaming"; metric = "game_latency"; good = 0.01; bad = 0.05; weight = 5; },'
            if [ "$2" = 1 ]; then
                echo '    { class = "gaming"; metric = "game_jitter"; good = 0.02; bad = 0.02; },'
            fi
            echo '    { class = "gaming"; metric = "retx_permille"; good = 5; bad = 50; weight = 0; }'
            echo '); };'
        fi
    } > "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
}

write_conf 0 0
LOG=$FP_TMP/flowpulse.log
"$FP_BUILD/flowpulse" -c "$CONF" -r "$CAP" -o capture.progress=false -o capture.pace=2 \
    -o control.socket= > "$LOG" 2>&1 &
FPID=$!
FP_PIDS+=("$FPID")
sleep 5
write_conf 1 0
kill -HUP "$FPID"
sleep 1.5
if grep -q "reloaded: applied classification rules and classes, QoE thresholds" "$LOG"; then
    ok "reload: rules and thresholds applied live"
else
    ko "reload: no 'applied classification rules and classes, QoE thresholds' in the log"
fi
write_conf 1 1
kill -HUP "$FPID"
sleep 1
if grep -q "reload refused.*$CONF:5: qoe.thresholds\[1\].bad: equal to good" "$LOG"; then
    ok "reload: invalid threshold refused with FILE:LINE: setting: problem"
else
    ko "reload: no refusal naming $CONF:5: qoe.thresholds[1].bad in the log"
fi
fp_wait_pid "$FPID" 90
wait "$FPID"
rc=$?
fp_forget_pid "$FPID"
[ "$rc" -eq 0 ] && ok "flowpulse exited 0" || { ko "flowpulse exited $rc"; cat "$LOG" >&2; }
grep -i reload "$LOG" >&2

ipfixDump --rfc5610 --in "$OUT" > "$FP_TMP/dump.txt" 2> "$FP_TMP/dump.err" ||
    { ko "ipfixDump failed"; exit 1; }
"$FP_PY" "$FP_COMPARE" --normalize ipfixdump < "$FP_TMP/dump.txt" > "$FP_TMP/lines"
if fp_compare "$FP_TMP/truth" "$FP_TMP/lines" "file collector" >&2; then
    ok "records equal the ground truth across the reloads (nothing lost or split)"
else
    ko "records differ from the ground truth"
fi

if "$FP_PY" - "$FP_ROOT/tests/integration" "$FP_TMP/dump.txt" <<'PYEOF'; then
import datetime, sys
sys.path.insert(0, sys.argv[1])
import qoe_check

recs = qoe_check.parse_ipfixdump(sys.argv[2])
bad = []

def ts(v):  # "2023-11-14 22:13:26.775" (UTC) -> seconds
    d = datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%S.%f")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()

def decision_time(r):
    """Time of the first packet with payload (the one that decides a TLS flow)."""
    t = ts(r["flowStartMilliseconds"])
    for n, iat in zip(r.get("fpSpltPacketLength", []), r.get("fpSpltInterArrivalUs", [])):
        t += iat / 1e6
        if n > 0:
            return t
    return None

# --- 1. decisions by time -----------------------------------------------------------------
tls = [r for r in recs if r["protocolIdentifier"] == 6 and r["destinationTransportPort"] == 443
       and isinstance(r.get("fpServerName"), str)
       and (r["fpServerName"] == "com" or r["fpServerName"].endswith(".com"))]
new = [r for r in tls if r.get("fpAppName") == "TestApp"]
old = [r for r in tls if r.get("fpAppName") != "TestApp"]
for r in new:
    if r.get("fpAppClass") != "gaming" or r.get("fpAppMethod") != 4:
        bad.append(f"TestApp record with class {r.get('fpAppClass')} method {r.get('fpAppMethod')}")
t_new = min((decision_time(r) for r in new if decision_time(r) is not None), default=None)
t_old = max((decision_time(r) for r in old if decision_time(r) is not None), default=None)
print(f"  TLS to *.com: {len(old)} records decided before the reload, {len(new)} after",
      file=sys.stderr)
if not new or not old or t_new is None or t_old is None:
    bad.append("need flows on both sides of the reload")
else:
    # ms timestamps in the export: 2 ms of slack
    if t_old > t_new + 0.002:
        bad.append(f"a flow decided at {t_old:.3f} kept its old application, TestApp from {t_new:.3f}")
    kept = [r for r in old if ts(r["flowEndMilliseconds"]) > t_new + 0.1]
    print(f"  {len(kept)} flows decided before the reload ended after it, keeping their application",
          file=sys.stderr)
    if not kept:
        bad.append("no flow decided before the reload was still active after it")

# --- 2. scores from the exported metrics -------------------------------------------------
# src/qoe/README.md "QoE score", metric order of FP_QOE_METRICS; (good, bad, weight)
WEB = {"rtt": (50000, 400000, 2), "art": (200000, 3000000, 3), "retx": (5, 50, 2),
       "tls": (150000, 2000000, 1)}
GAME_OLD = {"retx": (5, 50, 1), "glat": (30000, 150000, 3), "gjit": (5000, 40000, 2),
            "gspk": (0, 10, 2)}
GAME_NEW = {"retx": (5, 50, 0), "glat": (10000, 50000, 5), "gjit": (5000, 40000, 2),
            "gspk": (0, 10, 2)}
ORDER = ["rtt", "art", "retx", "tls", "glat", "gjit", "gspk"]

def metrics(r):
    q = r.get("fpQoeValid", 0)
    g = lambda k: r.get(k, 0)
    v = {}
    if q & 1 and q & 2:
        v["rtt"] = g("fpServerNwDelayUs") + g("fpClientNwDelayUs")
    elif q & 8 and q & 16:
        v["rtt"] = g("fpRttMeanUs") + g("reverseFpRttMeanUs")
    if q & 4:
        v["art"] = g("fpAppResponseTimeUs")
    pk = g("packetDeltaCount") + g("reversePacketDeltaCount")
    if q & 32 and pk > 0:
        v["retx"] = (g("fpRetransPackets") + g("reverseFpRetransPackets")) * 1000 // pk
    if q & 64:
        v["tls"] = g("fpTlsHandshakeUs")
    if q & (1 << 11):
        v["gjit"], v["gspk"] = g("fpGameJitterUs"), g("fpGameSpikes")
    if q & (1 << 12):
        v["glat"] = g("fpGameLatencyMeanUs")
    elif "rtt" in v:
        v["glat"] = v["rtt"]
    return v

def score(v, table):
    acc, wsum = 0.0, 0
    for m in ORDER:
        if m not in v or m not in table:
            continue
        good, badv, w = table[m]
        if w == 0 or good == badv:
            continue
        x = min(max((v[m] - good) / (badv - good), 0.0), 1.0)
        acc += w * 100.0 * (1.0 - x)
        wsum += w
    return None if wsum == 0 else int(acc / wsum + 0.5)

def got_score(r):
    return r.get("fpScore", r.get("fpQoeScore")) if r.get("fpQoeValid", 0) & (1 << 13) else None

differs = checked_new = checked_web = 0
for r in recs:
    if r.get("fpAppName") == "TestApp" and r["protocolIdentifier"] == 6:
        v = metrics(r)
        want, was = score(v, GAME_NEW), score(v, GAME_OLD)
        checked_new += 1
        differs += want != was
        if got_score(r) != want:
            bad.append(f"TestApp {r['_key']}: score {got_score(r)}, new table gives {want} "
                       f"(old {was}; metrics {v})")
    elif r.get("fpAppClass") in ("web", "social-media", "messaging", "music", "email") and \
            r["protocolIdentifier"] == 6:
        v = metrics(r)
        checked_web += 1
        if got_score(r) != score(v, WEB):
            bad.append(f"web {r['_key']}: score {got_score(r)}, formula gives {score(v, WEB)} ({v})")
print(f"  scores: {checked_new} TestApp records match the new gaming table ({differs} of them "
      f"differ from the old table), {checked_web} web-class records match the web table",
      file=sys.stderr)
if checked_new == 0 or checked_web == 0:
    bad.append("no record to check a score on")
if differs * 2 < checked_new:
    bad.append(f"the new thresholds changed only {differs} of {checked_new} scores")
for b in bad[:20]:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
    ok "new rules decide flows after the reload, earlier decisions kept; scores follow the new thresholds"
else
    ko "decisions or scores do not follow the reload"
fi

if [ "$fails" -ne 0 ]; then
    fp_fail "$fails check(s) failed"
    exit 1
fi
fp_pass "all rule/threshold reload checks"
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Live reload under traffic. A ~34 s capture (build/fpgen mix, 300 pps) is replayed at twice
# its own timing (-o capture.pace=2, ~17 s) with -c FILE naming collector A (nfcapd). During
# the run the file is changed and SIGHUP sent:
#   1. collector B (a second nfcapd) added        -> B receives records after the reload;
#   2. flow.idle_timeout 15 s -> 1 s               -> idle expiry starts at once (expired_idle
#      counter of `flowpulsectl stats` jumps, active flows fall);
#   3. an invalid file                             -> refused with FILE:LINE in the log, the
#      running configuration keeps exporting to A and B.
# At the end A's records equal the ground truth exactly (nothing lost or duplicated across the
# reloads) and B's are a non-empty subset (per 5-tuple no more packets/bytes than the truth,
# fewer flows than A). Prints PASS/FAIL/SKIP lines; exit status 1 on any failure.
. "$(dirname "$0")/lib.sh"
fp_lib_init reload
fp_need nfcapd nfdump "$FP_PY"
fp_need_flowpulse
CTL=$FP_BUILD/flowpulsectl
[ -x "$CTL" ] || { fp_skip "$CTL not built"; exit 0; }

fails=0
ok() { fp_pass "$1"; }
ko() { fp_fail "$1"; fails=$((fails + 1)); }

CAP=$FP_TMP/long.pcap
"$FP_BUILD/fpgen" --profile mix --seed 7 --flows 2000 --pps 300 -o "$CAP" 2>/dev/null ||
    { fp_fail "fpgen failed"; exit 1; }
fp_truth "$CAP" "$FP_TMP/truth" || { fp_fail "truth.py failed"; exit 1; }

fp_nfcapd_start || { fp_fail "nfcapd A did not start"; exit 1; }
A_PORT=$NFCAPD_PORT A_PID=$NFCAPD_PID A_DIR=$NFCAPD_DIR
fp_nfcapd_start || { fp_fail "nfcapd B did not start"; exit 1; }
B_PORT=$NFCAPD_PORT B_PID=$NFCAPD_PID B_DIR=$NFCAPD_DIR

CONF=$FP_TMP/flowpulse.conf
SOCK=$FP_TMP/ctl.sock
write_conf() { # IDLE_S WITH_B
    {
        echo "flow = { idle_timeout = $1; };"
        echo "export = {"
        echo "    collectors = ("
        echo "        { url = \"udp://127.0.0.1:$A_PORT\"; }"
        [ "$2" = 1 ] && echo "        , { url = \"udp://127.0.0.1:$B_PORT\"; }"
        echo "    );"
        echo "};"
    } > "$CONF.tmp" && mv "$CONF.tmp" "$CONF"
}
stat_sum() { # FIELD: sum over workers of flow.FIELD
    "$CTL" -s "$SOCK" -t 5 stats 2>/dev/null | "$FP_PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(w["flow"][sys.argv[1]] for w in d.get("workers", [])))' "$1" 2>/dev/null || echo -1
}
b_records() {
    "$CTL" -s "$SOCK" -t 5 collectors 2>/dev/null | "$FP_PY" -c '
import json, sys
t = sys.stdin.read().strip()
try:
    d = json.loads(t)
    rows = d if isinstance(d, list) else d.get("collectors", [])
except ValueError:
    rows = [json.loads(l) for l in t.splitlines() if l.strip()]
for c in rows:
    if c.get("url", "").endswith(":" + sys.argv[1]):
        print(c.get("records", 0)); break
else:
    print(-1)' "$B_PORT" 2>/dev/null || echo -1
}

write_conf 15 0
LOG=$FP_TMP/flowpulse.log
"$FP_BUILD/flowpulse" -c "$CONF" -r "$CAP" -o capture.progress=false -o capture.pace=2 \
    -o "control.socket=$SOCK" > "$LOG" 2>&1 &
FPID=$!
FP_PIDS+=("$FPID")
for ((i = 0; i < 100; i++)); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { ko "control socket did not appear"; cat "$LOG" >&2; exit 1; }

# --- 1. add collector B
sleep 3
write_conf 15 1
kill -HUP "$FPID"
sleep 2.5
if grep -q "1 added" "$LOG"; then ok "reload 1: collector B added"; else ko "reload 1: no 'added' in the log"; fi
nb=$(b_records)
if [ "$nb" -gt 0 ] 2>/dev/null; then ok "reload 1: collector B received $nb records after the reload"; else ko "reload 1: collector B has received nothing ($nb)"; fi

# --- 2. idle timeout 15 s -> 1 s
idle0=$(stat_sum expired_idle)
act0=$(stat_sum active)
sleep 1.5
idle1=$(stat_sum expired_idle)
write_conf 1 1
kill -HUP "$FPID"
sleep 1.5
idle2=$(stat_sum expired_idle)
act2=$(stat_sum active)
fp_log "expired_idle: $idle0 -> $idle1 (1.5 s, idle 15 s) -> $idle2 (1.5 s after idle 1 s); active $act0 -> $act2"
if grep -q "applied flow timeouts" "$LOG" &&
    [ $((idle2 - idle1)) -gt $((3 * (idle1 - idle0) + 20)) ] && [ "$act2" -lt "$act0" ]; then
    ok "reload 2: idle timeout 1 s takes effect (idle expiries +$((idle2 - idle1)) vs +$((idle1 - idle0)) before; active $act0 -> $act2)"
else
    ko "reload 2: idle timeout change not visible (idle $idle0/$idle1/$idle2, active $act0/$act2)"
fi

# --- 3. invalid file: refused with file:line, old config keeps running
printf 'flow = { idle_timeout = 1; };\nexport = { collectors = ( { url = "bogus://x"; } ); };\n' > "$CONF"
kill -HUP "$FPID"
sleep 1
if grep -q "reload refused.*$CONF:2: export.collectors\[0\].url" "$LOG"; then
    ok "reload 3: invalid file refused with FILE:LINE: setting: problem"
else
    ko "reload 3: no refusal naming $CONF:2 in the log"
fi
nb3=$(b_records)
sleep 2
nb4=$(b_records)
if [ "$nb4" -gt "$nb3" ] 2>/dev/null; then ok "reload 3: the running configuration keeps exporting ($nb3 -> $nb4 records to B)"; else ko "reload 3: export stalled after the refused reload ($nb3 -> $nb4)"; fi

fp_wait_pid "$FPID" 60
wait "$FPID"
rc=$?
fp_forget_pid "$FPID"
[ "$rc" -eq 0 ] && ok "flowpulse exited 0" || ko "flowpulse exited $rc"
grep -E "reload|collector" "$LOG" >&2

NFCAPD_PORT=$A_PORT NFCAPD_PID=$A_PID NFCAPD_DIR=$A_DIR fp_nfcapd_stop "$FP_TMP/a.lines"
NFCAPD_PORT=$B_PORT NFCAPD_PID=$B_PID NFCAPD_DIR=$B_DIR fp_nfcapd_stop "$FP_TMP/b.lines"
if fp_compare "$FP_TMP/truth" "$FP_TMP/a.lines" "collector A" >&2; then
    ok "collector A: records equal the ground truth across three reloads (nothing lost or duplicated)"
else
    ko "collector A: records differ from the ground truth"
fi
if "$FP_PY" - "$FP_TMP/truth" "$FP_TMP/b.lines" "$FP_TMP/a.lines" <<'PYEOF' >&2; then
import sys
def load(p):
    d = {}
    for l in open(p):
        if l.startswith("#") or not l.strip():
            continue
        f = l.split()
        k = tuple(f[:5])
        v = d.setdefault(k, [0, 0])
        v[0] += int(f[5]); v[1] += int(f[6])
    return d
t, b, a = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
bad = [k for k in b if k not in t or b[k][0] > t[k][0] or b[k][1] > t[k][1]]
print(f"collector B: {len(b)} uniflows (A {len(a)}), {len(bad)} not within the truth")
sys.exit(0 if b and not bad and len(b) < len(a) else 1)
PYEOF
    ok "collector B: a non-empty subset of the truth, fewer flows than A (added mid-run)"
else
    ko "collector B: not a proper subset of the ground truth"
fi

if [ "$fails" -ne 0 ]; then
    fp_fail "$fails check(s) failed"
    exit 1
fi
fp_pass "all reload checks"
exit 0

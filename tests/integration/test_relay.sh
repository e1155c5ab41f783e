#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# flowpulse-relay: IPFIX over TLS and DTLS (mutual authentication) -> relay -> unmodified
# collectors.
# The generated `mix` capture is exported by flowpulse to an IPFIX file (large messages), then
# streamed over TLS by a small Python client (random chunk sizes) into the relay:
#   a. relay -> nfcapd (UDP, messages split to 1472): records equal truth exactly
#   b. relay -> nfacctd (UDP): records equal truth
#   c. two exporter sessions at once -> nfcapd: every record twice (distinct source ports)
#   d. nfcapd killed and restarted while the session is idle; periodic template re-send
#      (-t 2) lets the new nfcapd decode the rest (template-only messages are not re-sent by
#      the client): union of both nfcapd runs equals truth
#   e. same, without periodic re-send (-t 3600): the relay sees ECONNREFUSED and sends the
#      templates before the next data: union equals truth
#   f. relay -> TCP collector (socat | ipfixDump): records equal truth
#   g. a client with a certificate from another CA, and one without a certificate, are
#      refused with a clear log line, and nothing reaches nfcapd
#   h. flowpulse itself: -e tls:// (client certificate) -> relay -> nfcapd: equal to truth
#   i. flowpulse -e dtls:// -> the relay's DTLS listener -> nfcapd: equal to truth
#   j. the same -> nfacctd: equal to truth
#   k. flowpulse with a certificate from another CA, over TLS and over DTLS: refused, the relay
#      log names the cause, nothing reaches nfcapd; stray datagrams are dropped and counted
#   l. a DTLS client (openssl s_client) sends records that are not IPFIX (dropped, counted,
#      logged once), then dies; a new one from the same port replaces its session, goes silent
#      without close_notify, and its session ends by the idle timeout
# Loopback only; every process is started here and stopped by PID.
. "$(dirname "$0")/lib.sh"
fp_lib_init relay
fp_need nfcapd nfdump openssl nfacctd
fp_need_flowpulse
RELAY=$FP_BUILD/flowpulse-relay
if [ ! -x "$RELAY" ]; then
    fp_skip "$RELAY not built"
    exit 0
fi
if ! "$FP_PY" -c 'import ssl' 2>/dev/null; then
    fp_skip "python3 ssl module not available"
    exit 0
fi

PROBLEMS=()
problem() {
    PROBLEMS+=("$1")
    fp_log "problem: $1"
}

# ---- certificates ---------------------------------------------------------------------------
CERTS=$FP_TMP/certs
if [ -x "$FP_ROOT/scripts/make-certs.sh" ]; then
    "$FP_ROOT/scripts/make-certs.sh" "$CERTS" >/dev/null 2>&1 || { fp_fail "make-certs.sh failed"; exit 1; }
else
    # Fallback: a minimal PKI with the same file names.
    mkdir -p "$CERTS"
    (
        cd "$CERTS" && export OPENSSL_CONF=/dev/null
        for ca in ca other-ca; do
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
                -keyout $ca.key -out $ca.pem -subj "/CN=$ca" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=keyCertSign" 2>/dev/null
        done
        mk() { # name ca cn san
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
                -out "$1.csr" -subj "/CN=$3" 2>/dev/null
            printf '%s\n' "$4" > "$1.ext"
            openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 30 \
                -out "$1.pem" -extfile "$1.ext" 2>/dev/null
        }
        mk collector ca collector.test "subjectAltName=DNS:localhost,IP:127.0.0.1"
        mk exporter ca flowpulse-exporter "extendedKeyUsage=clientAuth"
        mk other-exporter other-ca flowpulse-exporter "extendedKeyUsage=clientAuth"
    )
fi
for f in ca.pem collector.pem collector.key exporter.pem exporter.key other-exporter.pem; do
    [ -s "$CERTS/$f" ] || { fp_fail "certificate $f missing"; exit 1; }
done

# ---- capture, truth, IPFIX file --------------------------------------------------------------
TRUTH_DIR=${FP_TRUTH_CACHE:-$FP_TMP/truth}
MIX=$FP_TMP/mix.pcap
fp_gen_mix "$MIX" || { fp_fail "fpgen failed"; exit 1; }
fp_truth_many "$TRUTH_DIR" "$MIX" || { fp_fail "truth.py failed"; exit 1; }
TRUTH=$TRUTH_DIR/mix.pcap.truth
IPFIX=$FP_TMP/mix.ipfix
fp_flowpulse_run "$MIX" "$FP_TMP/flowpulse-file.log" -e "file:$IPFIX" || {
    tail -5 "$FP_TMP/flowpulse-file.log" >&2
    fp_fail "flowpulse -e file: failed"
    exit 1
}
[ -s "$IPFIX" ] || { fp_fail "no IPFIX file"; exit 1; }

# ---- the TLS test client ---------------------------------------------------------------------
SENDER=$FP_TMP/send.py
cat > "$SENDER" <<'EOF'
"""send.py HOST PORT CERT KEY CA FILE PLAN...: stream IPFIX messages of FILE over mutual TLS.
PLAN tokens: send:A:B (messages A..B-1, B may be 'end'), data:A:B (same, skipping messages that
hold only template sets), tmpl (the template-only messages again), sleep:S, touch:F, wait:F."""
import os, random, socket, ssl, struct, sys, time

host, port, cert, key, ca, path = sys.argv[1:7]
plan = sys.argv[7:] or ["send:0:end"]
data = open(path, "rb").read()
msgs, off = [], 0
while off < len(data):
    n = struct.unpack(">H", data[off + 2:off + 4])[0]
    msgs.append(data[off:off + n])
    off += n

def template_only(m):
    o = 16
    while o < len(m):
        sid, sl = struct.unpack(">HH", m[o:o + 4])
        if sid >= 256:
            return False
        o += sl
    return True

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
if cert != "-":
    ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
sock = socket.create_connection((host, int(port)), timeout=30)
tls = ctx.wrap_socket(sock, server_hostname="localhost")
rnd = random.Random(7)

def send_bytes(b):
    i = 0
    while i < len(b):  # random chunk sizes: the relay must frame across any boundary
        k = rnd.randint(1, 5000)
        tls.sendall(b[i:i + k])
        i += k

def rng(a, b):
    return range(int(a), len(msgs) if b == "end" else int(b))

sent = 0
for tok in plan:
    op, *args = tok.split(":", 1)
    args = args[0].split(":") if args else []
    if op in ("send", "data"):
        if op == "send":
            chosen = [msgs[i] for i in rng(*args)]
        else:
            chosen = [msgs[i] for i in rng(*args) if not template_only(msgs[i])]
        send_bytes(b"".join(chosen))
        sent += len(chosen)
    elif op == "tmpl":
        tm = [m for m in msgs if template_only(m)]
        send_bytes(b"".join(tm))
        sent += len(tm)
    elif op == "sleep":
        time.sleep(float(args[0]))
    elif op == "touch":
        open(args[0], "w").close()
    elif op == "wait":
        t0 = time.time()
        while not os.path.exists(args[0]):
            if time.time() - t0 > 60:
                sys.exit("timeout waiting for " + args[0])
            time.sleep(0.05)
try:
    tls.shutdown(socket.SHUT_WR)
    tls.settimeout(5)
    tls.recv(1)
except (OSError, ssl.SSLError):
    pass
tls.close()
print(f"{len(msgs)} messages in file, {sent} sent", file=sys.stderr)
EOF

# send PORT CERT KEY PLAN...: run the client (certificate of "-" = none).
send() {
    local port=$1 cert=$2 key=$3
    shift 3
    timeout 90 "$FP_PY" "$SENDER" 127.0.0.1 "$port" "$cert" "$key" "$CERTS/ca.pem" "$IPFIX" "$@"
}

# ---- the relay -------------------------------------------------------------------------------
# relay_start NAME COLLECTOR_URL [args]: sets RELAY_PORT, RELAY_PID, RELAY_LOG; with
# WITH_DTLS=1 also a DTLS listener on RELAY_DTLS_PORT.
relay_start() {
    local name=$1 url=$2 dtls=()
    shift 2
    RELAY_PORT=$(fp_free_port tcp)
    RELAY_LOG=$FP_TMP/relay-$name.log
    if [ -n "${WITH_DTLS:-}" ]; then
        RELAY_DTLS_PORT=$(fp_free_port udp)
        dtls=(-d "127.0.0.1:$RELAY_DTLS_PORT")
    fi
    "$RELAY" -l "127.0.0.1:$RELAY_PORT" "${dtls[@]}" -f "$url" --cert "$CERTS/collector.pem" \
        --key "$CERTS/collector.key" --ca "$CERTS/ca.pem" "$@" > "$RELAY_LOG" 2>&1 &
    RELAY_PID=$!
    FP_PIDS+=("$RELAY_PID")
    fp_wait_listen tcp "$RELAY_PORT" || return 1
    [ -z "${WITH_DTLS:-}" ] || fp_wait_listen udp "$RELAY_DTLS_PORT"
}

# relay_stop: SIGTERM; the relay logs its counters and must exit 0.
relay_stop() {
    kill -TERM "$RELAY_PID" 2>/dev/null
    fp_wait_pid "$RELAY_PID" 10
    local rc=$?
    fp_forget_pid "$RELAY_PID"
    [ $rc -eq 0 ] || problem "relay exited with status $rc ($RELAY_LOG)"
    grep -q "counters (exit)" "$RELAY_LOG" || problem "relay did not log its counters at exit"
}

# counter NAME: value of a relay counter in the exit dump.
counter() {
    awk -v n="$1" '$0 ~ "counters \\(exit\\)" { on = 1 } on && $(NF-1) == n { print $NF }' \
        "$RELAY_LOG" | tail -1
}

# wait_relay_idle: wait until the relay has no open session (the client's close was processed).
wait_relay_idle() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c ' closed: ' "$RELAY_LOG")" -ge "${1:-1}" ] && return 0
        sleep 0.05
    done
}

# ---- a. nfcapd behind the relay ------------------------------------------------------------------
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
relay_start a "udp://127.0.0.1:$NFCAPD_PORT"
send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" send:0:end || problem "a: client failed"
wait_relay_idle
fp_nfcapd_stop "$FP_TMP/a.nfcapd"
relay_stop
fp_compare "$TRUTH" "$FP_TMP/a.nfcapd" "relay->nfcapd" >&2 || problem "a: nfcapd records differ from truth"
splits=$(counter splits)
[ "${splits:-0}" -gt 0 ] || problem "a: no message was split (splits=${splits:-?})"
[ "$(counter malformed_sessions)" = 0 ] || problem "a: malformed sessions"
fp_log "a: splits=$splits msgs_in=$(counter msgs_in) msgs_out=$(counter msgs_out)"

# ---- b. nfacctd behind the relay -----------------------------------------------------------------
fp_nfacctd_start || problem "b: nfacctd did not start"
relay_start b "udp://127.0.0.1:$NFACCTD_PORT"
send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" send:0:end || problem "b: client failed"
wait_relay_idle
fp_nfacctd_stop "$FP_TMP/b.nfacctd"
relay_stop
fp_compare "$TRUTH" "$FP_TMP/b.nfacctd" "relay->nfacctd" >&2 || problem "b: nfacctd records differ from truth"

# ---- c. two exporters at once ----------------------------------------------------------------------
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
relay_start c "udp://127.0.0.1:$NFCAPD_PORT"
send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" send:0:end & p1=$!
send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" send:0:end & p2=$!
wait $p1 || problem "c: client 1 failed"
wait $p2 || problem "c: client 2 failed"
wait_relay_idle 2
fp_nfcapd_stop "$FP_TMP/c.nfcapd"
relay_stop
cat "$TRUTH" "$TRUTH" > "$FP_TMP/c.truth"
fp_compare "$FP_TMP/c.truth" "$FP_TMP/c.nfcapd" "two sessions->nfcapd" >&2 ||
    problem "c: two sessions: nfcapd records differ from 2 x truth"
ports=$(grep -o 'from 127.0.0.1:[0-9]*$' "$RELAY_LOG" | sort -u | wc -l)
[ "$ports" -eq 2 ] || problem "c: expected 2 distinct relay source ports, got $ports"

# ---- d/e. collector restart --------------------------------------------------------------------------
# restart_case NAME REFRESH_S "DOWN" "UP": the client sends the first half; the test stops
# nfcapd; the client runs the DOWN plan tokens (collector down); the test restarts nfcapd on the
# same port; the client runs the UP tokens, then sends the rest without template-only messages.
restart_case() {
    local name=$1 refresh=$2 down=$3 up=$4
    local nmsg half
    nmsg=$("$FP_PY" -c 'import struct,sys
d=open(sys.argv[1],"rb").read();o=n=0
while o<len(d): o+=struct.unpack(">H",d[o+2:o+4])[0]; n+=1
print(n)' "$IPFIX")
    half=$((nmsg / 2))
    [ "$half" -ge 1 ] || { problem "$name: IPFIX file has $nmsg messages"; return; }
    fp_nfcapd_start || { problem "$name: nfcapd did not start"; return; }
    relay_start "$name" "udp://127.0.0.1:$NFCAPD_PORT" -t "$refresh"
    local go=$FP_TMP/$name.go half_done=$FP_TMP/$name.half mid=$FP_TMP/$name.mid go2=$FP_TMP/$name.go2
    # shellcheck disable=SC2086 # DOWN/UP are word lists
    send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" "send:0:$half" \
        "touch:$half_done" "wait:$go" $down "touch:$mid" "wait:$go2" $up "data:$half:end" &
    local sp=$!
    local i
    for ((i = 0; i < 600; i++)); do
        [ -e "$half_done" ] && break
        sleep 0.05
    done
    [ -e "$half_done" ] || problem "$name: the client did not send the first half"
    local port=$NFCAPD_PORT
    fp_nfcapd_stop "$FP_TMP/$name.1.nfcapd"
    : > "$go"
    for ((i = 0; i < 600; i++)); do
        [ -e "$mid" ] && break
        sleep 0.05
    done
    # Same port again (UDP: free as soon as nfcapd exited).
    NFCAPD_DIR=$(mktemp -d "$FP_TMP/nfcapd.XXXXXX")
    mkdir -p "$NFCAPD_DIR/data"
    nfcapd -b 127.0.0.1 -p "$port" -w "$NFCAPD_DIR/data" -B 16777216 -t 3600 -I fptest \
        > "$NFCAPD_DIR/log" 2>&1 &
    NFCAPD_PID=$!
    NFCAPD_PORT=$port
    FP_PIDS+=("$NFCAPD_PID")
    fp_wait_listen udp "$port" || problem "$name: nfcapd did not restart"
    : > "$go2"
    wait $sp || problem "$name: client failed"
    wait_relay_idle
    fp_nfcapd_stop "$FP_TMP/$name.2.nfcapd"
    relay_stop
    [ -s "$FP_TMP/$name.2.nfcapd" ] || problem "$name: the restarted nfcapd decoded nothing"
    cat "$FP_TMP/$name.1.nfcapd" "$FP_TMP/$name.2.nfcapd" > "$FP_TMP/$name.nfcapd"
    fp_compare "$TRUTH" "$FP_TMP/$name.nfcapd" "$name: restart" >&2 ||
        problem "$name: records across the nfcapd restart differ from truth"
}
# d: periodic re-send every 2 s; the client waits 3 s before the rest.
restart_case d 2 "" sleep:3
grep -q "template_resends" "$RELAY_LOG" && fp_log "d: template_resends=$(counter template_resends)"
# e: no periodic re-send; the client's template refresh goes to the closed port (ICMP ->
# ECONNREFUSED), then the rest after nfcapd is back.
restart_case e 3600 "tmpl sleep:0.3 tmpl sleep:0.3" ""
[ "$(counter collector_restarts)" -ge 1 ] 2>/dev/null || problem "e: relay did not notice the restart"

# ---- f. TCP collector (socat | ipfixDump) -------------------------------------------------------------
if command -v ipfixDump >/dev/null && command -v socat >/dev/null; then
    fp_ipfixdump_start || problem "f: ipfixDump did not start"
    relay_start f "tcp://127.0.0.1:$IPFIXDUMP_PORT"
    send "$RELAY_PORT" "$CERTS/exporter.pem" "$CERTS/exporter.key" send:0:end || problem "f: client failed"
    wait_relay_idle
    fp_ipfixdump_stop "$FP_TMP/f.ipfixdump"
    relay_stop
    fp_compare "$TRUTH" "$FP_TMP/f.ipfixdump" "relay->tcp ipfixDump" >&2 ||
        problem "f: ipfixDump records differ from truth"
else
    fp_log "f: ipfixDump/socat not installed: skipped"
fi

# ---- g. refused clients ------------------------------------------------------------------------------
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
relay_start g "udp://127.0.0.1:$NFCAPD_PORT" --allow flowpulse-exporter
send "$RELAY_PORT" "$CERTS/other-exporter.pem" "$CERTS/other-exporter.key" send:0:end 2>/dev/null &&
    fp_log "g: the client with a foreign certificate did not notice the refusal (TLS 1.3)"
send "$RELAY_PORT" - - send:0:end 2>/dev/null
sleep 0.3
fp_nfcapd_stop "$FP_TMP/g.nfcapd"
relay_stop
[ -s "$FP_TMP/g.nfcapd" ] && problem "g: records reached nfcapd from a refused client"
grep -q "TLS handshake failed: client certificate: unable to get local issuer certificate\|TLS handshake failed: client certificate: " "$RELAY_LOG" ||
    problem "g: no clear log line for the foreign certificate"
grep -qi "TLS handshake failed: .*certificate" "$RELAY_LOG" || problem "g: no log line for the missing certificate"
[ "$(counter handshake_failures)" = 2 ] || problem "g: handshake_failures=$(counter handshake_failures), expected 2"
[ "$(counter sessions)" = 0 ] || problem "g: a refused client got a session"
grep "handshake failed" "$RELAY_LOG" | sed 's/^/    /' >&2

# ---- h. flowpulse itself over TLS ---------------------------------------------------------------------
# flowpulse_export CASE URL CERT [args]: flowpulse -r mix -e URL with the exporter certificate
# CERT (exporter or other-exporter) and short retries; its log is $FP_TMP/CASE.flowpulse.log.
flowpulse_export() {
    local case=$1 url=$2 cert=$3
    shift 3
    fp_flowpulse_run "$MIX" "$FP_TMP/$case.flowpulse.log" -e "$url" \
        -o "export.tls_cert=$CERTS/$cert.pem" -o "export.tls_key=$CERTS/$cert.key" \
        -o "export.tls_ca=$CERTS/ca.pem" -o export.retry_min=0.2 -o export.retry_max=0.5 \
        -o export.drain_timeout=1 -o control.socket= "$@"
}
# records_sent CASE: flowpulse's own count of flow records delivered to its collector 0.
records_sent() {
    sed -n 's/.*collector 0: \([0-9]*\) records.*/\1/p' "$FP_TMP/$1.flowpulse.log" | tail -1
}
truth_flows=$(grep -vc '^#' "$TRUTH")
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
relay_start h "udp://127.0.0.1:$NFCAPD_PORT"
flowpulse_export h "tls://localhost:$RELAY_PORT" exporter || problem "h: flowpulse -e tls:// failed"
wait_relay_idle
fp_nfcapd_stop "$FP_TMP/h.nfcapd"
relay_stop
grep -q "TLS session established" "$FP_TMP/h.flowpulse.log" || problem "h: flowpulse logged no TLS session"
[ "$(records_sent h)" = "$truth_flows" ] ||
    problem "h: flowpulse sent $(records_sent h) records over TLS, truth has $truth_flows flows"
fp_compare "$TRUTH" "$FP_TMP/h.nfcapd" "flowpulse tls->relay->nfcapd" >&2 ||
    problem "h: flowpulse over TLS: nfcapd records differ from truth"

# ---- i/j. flowpulse over DTLS -> relay -> nfcapd, nfacctd --------------------------------------------
# dtls_case CASE COLLECTOR(nfcapd|nfacctd)
dtls_case() {
    local case=$1 coll=$2 port
    "fp_${coll}_start" || { problem "$case: $coll did not start"; return; }
    [ "$coll" = nfcapd ] && port=$NFCAPD_PORT || port=$NFACCTD_PORT
    WITH_DTLS=1 relay_start "$case" "udp://127.0.0.1:$port"
    flowpulse_export "$case" "dtls://localhost:$RELAY_DTLS_PORT" exporter ||
        problem "$case: flowpulse -e dtls:// failed"
    wait_relay_idle
    "fp_${coll}_stop" "$FP_TMP/$case.$coll"
    relay_stop
    grep -q "DTLS session established (DTLSv1.2" "$FP_TMP/$case.flowpulse.log" ||
        problem "$case: flowpulse logged no DTLS 1.2 session"
    grep -q "session dtls 127.0.0.1:[0-9]*: CN=flowpulse-exporter, DTLSv1.2" "$RELAY_LOG" ||
        problem "$case: the relay logged no DTLS 1.2 session from flowpulse-exporter"
    grep -q "session dtls .* closed: peer closed the session" "$RELAY_LOG" ||
        problem "$case: the DTLS session did not end with the exporter's close_notify"
    [ "$(records_sent "$case")" = "$truth_flows" ] ||
        problem "$case: flowpulse sent $(records_sent "$case") records, truth has $truth_flows flows"
    [ "$(counter dtls_sessions)" = 1 ] || problem "$case: dtls_sessions=$(counter dtls_sessions)"
    [ "$(counter dtls_cookies)" -ge 1 ] 2>/dev/null ||
        problem "$case: no cookie exchange (dtls_cookies=$(counter dtls_cookies))"
    [ "$(counter msgs_in)" = "$(counter msgs_out)" ] ||
        problem "$case: msgs_in=$(counter msgs_in) msgs_out=$(counter msgs_out)"
    [ "$(counter malformed_msgs)" = 0 ] || problem "$case: malformed_msgs=$(counter malformed_msgs)"
    fp_compare "$TRUTH" "$FP_TMP/$case.$coll" "flowpulse dtls->relay->$coll" >&2 ||
        problem "$case: flowpulse over DTLS: $coll records differ from truth"
}
dtls_case i nfcapd
dtls_case j nfacctd

# ---- k. foreign exporter certificates (TLS and DTLS), stray datagrams ------------------------------
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
WITH_DTLS=1 relay_start k "udp://127.0.0.1:$NFCAPD_PORT"
flowpulse_export k-tls "tls://localhost:$RELAY_PORT" other-exporter
flowpulse_export k-dtls "dtls://localhost:$RELAY_DTLS_PORT" other-exporter
# Five cleartext IPFIX headers and an empty datagram, all from one source port.
"$FP_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("127.0.0.1", int(sys.argv[1]))
for _ in range(5):
    s.sendto(bytes.fromhex("000a0010") + bytes(12), dst)
s.sendto(b"", dst)
' "$RELAY_DTLS_PORT"
sleep 0.3
fp_nfcapd_stop "$FP_TMP/k.nfcapd"
relay_stop
[ -s "$FP_TMP/k.nfcapd" ] && problem "k: records reached nfcapd from a foreign exporter"
grep -q "session 127.0.0.1:[0-9]*: TLS handshake failed: client certificate: unable to get local issuer certificate" "$RELAY_LOG" ||
    problem "k: no relay log line naming the foreign CA (TLS)"
grep -q "session dtls 127.0.0.1:[0-9]*: DTLS handshake failed: client certificate: unable to get local issuer certificate" "$RELAY_LOG" ||
    problem "k: no relay log line naming the foreign CA (DTLS)"
grep -q "unknown ca" "$FP_TMP/k-dtls.flowpulse.log" || problem "k: flowpulse (DTLS) did not see the relay's alert"
[ "$(counter sessions)" = 0 ] || problem "k: a foreign exporter got a session"
[ "$(counter handshake_failures)" -ge 2 ] 2>/dev/null || problem "k: handshake_failures=$(counter handshake_failures)"
[ "$(counter dtls_bad_datagrams)" = 6 ] || problem "k: dtls_bad_datagrams=$(counter dtls_bad_datagrams), expected 6"
[ "$(grep -c "datagram dropped: no session and not a DTLS ClientHello" "$RELAY_LOG")" = 1 ] ||
    problem "k: stray datagrams of one peer not logged exactly once"
grep -q "collector 0: 0 records, .* $truth_flows records not sent" "$FP_TMP/k-dtls.flowpulse.log" ||
    problem "k-dtls: flowpulse does not count all $truth_flows records as not sent"
# TLS 1.3 checks the client certificate after the client's Finished: flowpulse waits for the
# collector's verdict (session ticket or alert) before sending, so a refused exporter sends
# nothing and counts every record as not sent.
unsent=$(sed -n 's/.*collector 0: .* \([0-9]*\) records not sent.*/\1/p' "$FP_TMP/k-tls.flowpulse.log")
[ "$unsent" = "$truth_flows" ] ||
    problem "k-tls: flowpulse counts ${unsent:-?} of $truth_flows records as not sent (TLS 1.3 refusal after the handshake)"
grep -m1 "TLS handshake failed" "$RELAY_LOG" | sed 's/^/    /' >&2
grep -m1 "DTLS handshake failed" "$RELAY_LOG" | sed 's/^/    /' >&2
grep -m1 "datagram dropped" "$RELAY_LOG" | sed 's/^/    /' >&2

# ---- l. non-IPFIX records; a restart on the same port; silence -------------------------------
# Two DTLS clients (openssl s_client) from the same address:port, one after the other, each
# killed by timeout (no close_notify; -quiet ignores the end of its input). The first sends
# two records that are not IPFIX: dropped, counted, logged once. The second handshake ends the
# first session (RFC 6347 section 4.2.8); the second session ends by the idle timeout.
fp_nfcapd_start || { fp_fail "nfcapd did not start"; exit 1; }
WITH_DTLS=1 relay_start l "udp://127.0.0.1:$NFCAPD_PORT" --dtls-idle 2
CPORT=$(fp_free_port udp)
s_client() { # runs for 1 s; stdin: what to send
    timeout 1 openssl s_client -dtls1_2 -quiet -bind "127.0.0.1:$CPORT" \
        -connect "127.0.0.1:$RELAY_DTLS_PORT" -cert "$CERTS/exporter.pem" \
        -key "$CERTS/exporter.key" -CAfile "$CERTS/ca.pem" >> "$FP_TMP/l.s_client.log" 2>&1
}
{ sleep 0.3; echo "not ipfix"; sleep 0.2; echo "still not ipfix"; } | s_client
s_client < /dev/null
sleep 2.5
fp_nfcapd_stop "$FP_TMP/l.nfcapd"
relay_stop
[ "$(counter dtls_sessions)" = 2 ] ||
    problem "l: dtls_sessions=$(counter dtls_sessions), expected 2 (s_client: $(head -c 300 "$FP_TMP/l.s_client.log"))"
[ "$(counter malformed_msgs)" = 2 ] || problem "l: malformed_msgs=$(counter malformed_msgs), expected 2"
[ "$(grep -c "DTLS record dropped: not a valid IPFIX message" "$RELAY_LOG")" = 1 ] ||
    problem "l: dropped records not logged exactly once"
grep -q "closed: the peer started a new handshake" "$RELAY_LOG" ||
    problem "l: the new handshake from the same port did not replace the old session"
[ "$(counter dtls_idle_timeouts)" = 1 ] || problem "l: dtls_idle_timeouts=$(counter dtls_idle_timeouts)"
grep -q "closed: idle timeout" "$RELAY_LOG" || problem "l: no idle-timeout close in the log"
[ -s "$FP_TMP/l.nfcapd" ] && problem "l: records reached nfcapd"

if [ ${#PROBLEMS[@]} -ne 0 ]; then
    printf '  %s\n' "${PROBLEMS[@]}" >&2
    fp_fail "${#PROBLEMS[@]} problem(s)"
    exit 1
fi
fp_pass "TLS and DTLS -> relay -> nfcapd/nfacctd/TCP equal to truth (flowpulse tls:// and dtls:// too); restarts, two sessions, refusals, idle timeout"

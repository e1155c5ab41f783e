# SPDX-License-Identifier: BSD-3-Clause
# Integration-test harness: real collectors on 127.0.0.1, ground truth, comparison.
#
# Source it from a test script:  . "$(dirname "$0")/lib.sh"; fp_lib_init NAME
# Every collector listens on 127.0.0.1 on a free port and writes into a private temp dir
# ($FP_TMP) that is removed at exit (kept when FP_KEEP=1). Processes started here are
# stopped by PID only. Collected records are normalised to lines
#     SRC DST SPORT DPORT PROTO PACKETS BYTES
# (addresses as Python's ipaddress prints them, numbers in decimal) so that
# tests/integration/compare.py can diff them against tests/tools/truth.py.

FP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FP_BUILD=${BUILD:-build}
case $FP_BUILD in /*) ;; *) FP_BUILD=$FP_ROOT/$FP_BUILD ;; esac
FP_SHARED_PCAPS=${FP_SHARED_PCAPS:-$FP_ROOT/../shared/pcaps}
# Resolve the interpreter once: version-manager shims cost a second per start.
FP_PY=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)}
FP_TRUTH=$FP_ROOT/tests/tools/truth.py
FP_COMPARE=$FP_ROOT/tests/integration/compare.py
FP_PIDS=()
FP_NS=          # when set, collectors run inside this network namespace (fp_set_ns)
FP_NS_EXEC=()   # command prefix for that: (ip netns exec NS)
FP_NAME=
FP_TMP=

# fp_lib_init NAME: temp dir, cleanup trap.
fp_lib_init() {
    FP_NAME=$1
    FP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fp-$1.XXXXXX")
    trap fp_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Stop every process we started (by PID), remove the temp dir.
fp_cleanup() {
    local p
    for p in "${FP_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${FP_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    FP_PIDS=()
    if [ -n "${FP_CLEANUP_HOOK:-}" ]; then
        $FP_CLEANUP_HOOK
    fi
    if [ -n "$FP_TMP" ] && [ "${FP_KEEP:-0}" != 1 ]; then
        rm -rf "$FP_TMP"
    elif [ -n "$FP_TMP" ]; then
        echo "kept $FP_TMP" >&2
    fi
}

# fp_set_ns NS: start the collectors inside network namespace NS from now on.
fp_set_ns() {
    FP_NS=$1
    FP_NS_EXEC=(ip netns exec "$1")
}

# fp_in_ns CMD...: run CMD (in the foreground) inside $FP_NS when set.
fp_in_ns() {
    if [ -n "$FP_NS" ]; then
        ip netns exec "$FP_NS" "$@"
    else
        "$@"
    fi
}

fp_log() { echo "[$FP_NAME] $*" >&2; }
fp_pass() { echo "PASS $FP_NAME${1:+: $1}"; }
fp_fail() { echo "FAIL $FP_NAME${1:+: $1}"; }
fp_skip() { echo "SKIP $FP_NAME: $1"; }

# fp_need CMD...: SKIP the whole test (exit 0) when a tool is missing.
fp_need() {
    local c
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "$c" ]; then
            fp_skip "$c not available"
            exit 0
        fi
    done
}

# fp_need_flowpulse: SKIP when the daemon is not built.
fp_need_flowpulse() {
    if [ ! -x "$FP_BUILD/flowpulse" ]; then
        fp_skip "$FP_BUILD/flowpulse not built"
        exit 0
    fi
}

# fp_free_port udp|tcp: print a port that is free on 127.0.0.1 right now.
fp_free_port() {
    fp_in_ns "$FP_PY" - "$1" <<'EOF'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

# fp_wait_listen udp|tcp PORT [TIMEOUT_S]: wait until something listens on the port.
fp_wait_listen() {
    local proto=$1 port=$2 t=${3:-10} i opt
    [ "$proto" = udp ] && opt=-Hlun || opt=-Hltn
    for ((i = 0; i < t * 20; i++)); do
        if fp_in_ns ss $opt "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.05
    done
    fp_log "nothing listens on $proto port $port after ${t}s"
    return 1
}

# fp_wait_drained udp|tcp PORT: wait (up to 5 s) until the listening socket's receive queue
# is empty, then a little more for the collector to process what it read last.
fp_wait_drained() {
    local proto=$1 port=$2 i opt q
    [ "$proto" = udp ] && opt=-Hlun || opt=-Hltn
    for ((i = 0; i < 100; i++)); do
        q=$(fp_in_ns ss $opt "sport = :$port" 2>/dev/null | awk '{ s += $2 } END { print s + 0 }')
        [ "$q" = 0 ] && break
        sleep 0.05
    done
    sleep "${FP_SETTLE:-0.2}"
}

# fp_wait_pid PID TIMEOUT_S: wait for a process we started to exit; kill it after the timeout.
# Returns its exit status (or 124 on timeout).
fp_wait_pid() {
    local pid=$1 t=$2 i
    for ((i = 0; i < t * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            return $?
        fi
        sleep 0.1
    done
    fp_log "pid $pid still running after ${t}s: killing it"
    kill "$pid" 2>/dev/null
    sleep 0.5
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

fp_forget_pid() {
    local p keep=()
    for p in "${FP_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    FP_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------------------------------------
# Ground truth and comparison.

# fp_truth CAPTURE OUT [truth.py args]: flow lines + "# ..." totals.
fp_truth() {
    local cap=$1 out=$2
    shift 2
    "$FP_PY" "$FP_TRUTH" "$@" "$cap" > "$out"
}

# fp_truth_many DIR CAPTURE...: DIR/<name>.truth for every capture, in one process.
# Existing files are reused (run-all.sh shares DIR between tests through $FP_TRUTH_CACHE).
fp_truth_many() {
    local dir=$1 c todo=()
    shift
    mkdir -p "$dir"
    for c in "$@"; do
        [ -s "$dir/$(basename "$c").truth" ] || todo+=("$c")
    done
    [ ${#todo[@]} -eq 0 ] || "$FP_PY" "$FP_TRUTH" --out-dir "$dir" "${todo[@]}"
}

# fp_compare TRUTH COLLECTED [LABEL]: exit status of compare.py (0 = equal).
fp_compare() {
    "$FP_PY" "$FP_COMPARE" ${3:+--label "$3"} "$1" "$2"
}

# fp_gen_mix OUT [fpgen args]: the deterministic `mix` capture.
fp_gen_mix() {
    local out=$1
    shift
    if [ ! -x "$FP_BUILD/fpgen" ]; then
        fp_log "$FP_BUILD/fpgen missing (make BUILD=$FP_BUILD all)"
        return 1
    fi
    "$FP_BUILD/fpgen" --profile mix --seed 7 "$@" -o "$out" 2>/dev/null
}

# fp_captures: the generated mix capture plus every capture of ../shared/pcaps (if present).
# Prints paths, one per line; $FP_CAPTURE_LIMIT limits the shared ones (0 = all).
fp_shared_captures() {
    local n=0 f
    [ -d "$FP_SHARED_PCAPS" ] || return 0
    for f in "$FP_SHARED_PCAPS"/*.pcap "$FP_SHARED_PCAPS"/*.pcapng; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        if [ "${FP_CAPTURE_LIMIT:-0}" -gt 0 ] && [ $n -gt "$FP_CAPTURE_LIMIT" ]; then
            break
        fi
        echo "$f"
    done
}

# fp_run_captures FUNC CAPTURE...: run "FUNC CAPTURE" for each capture, $FP_JOBS (default 2)
# at a time, each in its own subshell (its own collectors). FUNC prints its problems on
# stdout, one per line, and returns non-zero on failure. Sets FP_CHECKED (captures run) and
# FP_PROBLEMS (array of "capture: problem" lines).
fp_run_captures() {
    local func=$1 cap name rdir
    shift
    rdir=$(mktemp -d "$FP_TMP/results.XXXXXX")
    FP_CHECKED=0
    FP_PROBLEMS=()
    for cap in "$@"; do
        name=$(basename "$cap")
        ( "$func" "$cap" > "$rdir/$name.problems" 2> "$rdir/$name.log" || echo fail > "$rdir/$name.failed" ) &
        FP_CHECKED=$((FP_CHECKED + 1))
        while [ "$(jobs -rp | wc -l)" -ge "${FP_JOBS:-2}" ]; do
            wait -n
        done
    done
    wait
    for cap in "$@"; do
        name=$(basename "$cap")
        cat "$rdir/$name.log" >&2
        if [ -f "$rdir/$name.failed" ] || [ -s "$rdir/$name.problems" ]; then
            local line
            while IFS= read -r line; do
                FP_PROBLEMS+=("$name: $line")
            done < "$rdir/$name.problems"
            [ -s "$rdir/$name.problems" ] || FP_PROBLEMS+=("$name: failed")
        fi
    done
}

# fp_check_corpus MIX_FUNC MIX SHARED_FUNC SHARED...: the generated capture with MIX_FUNC, then
# every shared capture with SHARED_FUNC (a message when there is none), both through
# fp_run_captures; then the verdict: fp_fail and exit 1 on any problem, else fp_pass.
fp_check_corpus() {
    local mix_func=$1 mix=$2 one_func=$3 problems checked
    shift 3
    fp_run_captures "$mix_func" "$mix"
    problems=("${FP_PROBLEMS[@]}")
    checked=$FP_CHECKED
    if [ $# -eq 0 ]; then
        fp_log "no captures in $FP_SHARED_PCAPS: only the generated mix was checked"
    else
        fp_run_captures "$one_func" "$@"
        problems+=("${FP_PROBLEMS[@]}")
        checked=$((checked + FP_CHECKED))
    fi
    if [ ${#problems[@]} -ne 0 ]; then
        printf '  %s\n' "${problems[@]}" >&2
        fp_fail "${#problems[@]} problem(s) in $checked capture(s)"
        exit 1
    fi
    fp_pass "$checked capture(s) equal to truth"
}

# fp_snmpd_start PORT: a private snmpd in the foreground (config $FP_TMP/conf/snmpd.conf, log
# $FP_TMP/snmpd.log), listening on 127.0.0.1:PORT/udp; sets SNMPD_PID. fp_snmpd_stop ends it.
fp_snmpd_start() {
    snmpd -f -Lo -C -c "$FP_TMP/conf/snmpd.conf" -p "$FP_TMP/snmpd.pid" \
        >> "$FP_TMP/snmpd.log" 2>&1 &
    SNMPD_PID=$!
    FP_PIDS+=("$SNMPD_PID")
    fp_wait_listen udp "$1"
}
fp_snmpd_stop() {
    kill "$SNMPD_PID" 2>/dev/null
    fp_wait_pid "$SNMPD_PID" 10
    fp_forget_pid "$SNMPD_PID"
}

# ---------------------------------------------------------------------------------------------
# The exporter under test.

# Settings that make a run on a small capture start fast (smaller pools; the defaults take
# about a second more to set up). Used for the ../shared/pcaps corpus; the generated `mix`
# capture runs with the defaults.
FP_SMALL_RUN_OPTS=(-o capture.mbufs=4096 -o export.ring_size=4096 -o flow.capacity=65536)

# fp_flowpulse_run CAPTURE LOG [args]: process a capture (-r) with the given -e/-o args,
# export, wait for the exit (killed after $FP_RUN_TIMEOUT s). Returns flowpulse's status.
fp_flowpulse_run() {
    local cap=$1 log=$2
    shift 2
    timeout -k 5 "${FP_RUN_TIMEOUT:-60}" "$FP_BUILD/flowpulse" -r "$cap" \
        -o capture.progress=false "$@" > "$log" 2>&1
}

# ---------------------------------------------------------------------------------------------
# (a) nfcapd (nfdump 1.7.1): IPFIX over UDP.

# fp_nfcapd_start: sets NFCAPD_PORT, NFCAPD_PID, NFCAPD_DIR.
fp_nfcapd_start() {
    NFCAPD_DIR=$(mktemp -d "$FP_TMP/nfcapd.XXXXXX")
    NFCAPD_PORT=$(fp_free_port udp)
    mkdir -p "$NFCAPD_DIR/data"
    "${FP_NS_EXEC[@]}" nfcapd -b 127.0.0.1 -p "$NFCAPD_PORT" -w "$NFCAPD_DIR/data" -B 16777216 -t 3600 -I fptest \
        > "$NFCAPD_DIR/log" 2>&1 &
    NFCAPD_PID=$!
    FP_PIDS+=("$NFCAPD_PID")
    fp_wait_listen udp "$NFCAPD_PORT"
}

# fp_nfcapd_stop OUT: SIGTERM (nfcapd writes its file), then decode to normalised lines.
fp_nfcapd_stop() {
    local out=$1
    fp_wait_drained udp "$NFCAPD_PORT"
    kill -TERM "$NFCAPD_PID" 2>/dev/null
    fp_wait_pid "$NFCAPD_PID" 10
    fp_forget_pid "$NFCAPD_PID"
    if ! ls "$NFCAPD_DIR"/data/nfcapd.2* >/dev/null 2>&1; then
        : > "$out"
        return 0
    fi
    nfdump -R "$NFCAPD_DIR/data" -q -N -6 -o "fmt:%sa|%da|%sp|%dp|%pr|%ipkt|%ibyt|%opkt|%obyt" \
        2> "$NFCAPD_DIR/nfdump.err" | "$FP_PY" "$FP_COMPARE" --normalize nfdump > "$out"
}

# ---------------------------------------------------------------------------------------------
# (b) ipfixDump behind socat: IPFIX over TCP.

# fp_ipfixdump_start: sets IPFIXDUMP_PORT, IPFIXDUMP_DIR, IPFIXDUMP_PID (the pipeline).
fp_ipfixdump_start() {
    IPFIXDUMP_DIR=$(mktemp -d "$FP_TMP/ipfixdump.XXXXXX")
    IPFIXDUMP_PORT=$(fp_free_port tcp)
    local elem=()
    [ -f "$FP_ROOT/ie-defs/flowpulse.xml" ] && elem=(--element-file "$FP_ROOT/ie-defs/flowpulse.xml")
    (
        "${FP_NS_EXEC[@]}" socat -u "TCP-LISTEN:$IPFIXDUMP_PORT,bind=127.0.0.1,reuseaddr,rcvbuf=16777216" STDOUT \
            2> "$IPFIXDUMP_DIR/socat.log" | tee "$IPFIXDUMP_DIR/stream.ipfix" |
            ipfixDump --rfc5610 "${elem[@]}" --in - --out "$IPFIXDUMP_DIR/dump.txt" \
                2> "$IPFIXDUMP_DIR/ipfixdump.log"
    ) &
    IPFIXDUMP_PID=$!
    FP_PIDS+=("$IPFIXDUMP_PID")
    fp_wait_listen tcp "$IPFIXDUMP_PORT"
}

# fp_ipfixdump_stop OUT: the exporter closed the connection, so socat and ipfixDump end
# by themselves; wait for them (a stuck pipeline is killed) and normalise the dump.
fp_ipfixdump_stop() {
    local out=$1
    fp_wait_pid "$IPFIXDUMP_PID" 10
    fp_forget_pid "$IPFIXDUMP_PID"
    "$FP_PY" "$FP_COMPARE" --normalize ipfixdump < "$IPFIXDUMP_DIR/dump.txt" > "$out"
}

# ---------------------------------------------------------------------------------------------
# (c) nfacctd (pmacct 1.7.7): IPFIX over UDP, print plugin to CSV.

# fp_nfacctd_start: sets NFACCTD_PORT, NFACCTD_DIR, NFACCTD_PID.
fp_nfacctd_start() {
    NFACCTD_DIR=$(mktemp -d "$FP_TMP/nfacctd.XXXXXX")
    NFACCTD_PORT=$(fp_free_port udp)
    cat > "$NFACCTD_DIR/nfacctd.conf" <<EOF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $NFACCTD_PORT
nfacctd_pipe_size: 16777216
plugin_pipe_size: 67108864
plugin_buffer_size: 65536
plugins: print[fp]
aggregate[fp]: src_host, dst_host, src_port, dst_port, proto
print_output[fp]: csv
print_num_protos[fp]: true
print_output_file[fp]: $NFACCTD_DIR/flows.csv
print_output_file_append[fp]: true
print_refresh_time[fp]: 1
pidfile: $NFACCTD_DIR/nfacctd.pid
logfile: $NFACCTD_DIR/nfacctd.log
EOF
    "${FP_NS_EXEC[@]}" nfacctd -f "$NFACCTD_DIR/nfacctd.conf" > "$NFACCTD_DIR/stdout" 2>&1 &
    NFACCTD_PID=$!
    FP_PIDS+=("$NFACCTD_PID")
    fp_wait_listen udp "$NFACCTD_PORT"
}

# fp_nfacctd_stop OUT: let the print plugin purge (refresh 1 s), stop, normalise the CSV.
fp_nfacctd_stop() {
    local out=$1
    fp_wait_drained udp "$NFACCTD_PORT"
    sleep "${FP_NFACCTD_SETTLE:-2}"
    kill -INT "$NFACCTD_PID" 2>/dev/null
    fp_wait_pid "$NFACCTD_PID" 10
    fp_forget_pid "$NFACCTD_PID"
    "$FP_PY" "$FP_COMPARE" --normalize pmacct < "$NFACCTD_DIR/flows.csv" > "$out" 2>/dev/null ||
        : > "$out"
}

# ---------------------------------------------------------------------------------------------
# tshark: capture the export traffic on lo, then decode it as IPFIX and require no error.

# fp_tshark_start udp|tcp PORT: sets TSHARK_PID, TSHARK_FILE.
fp_tshark_start() {
    TSHARK_PROTO=$1
    TSHARK_PORT=$2
    TSHARK_FILE=$FP_TMP/export-$TSHARK_PROTO-$TSHARK_PORT.pcapng
    tshark -q -i lo -f "$TSHARK_PROTO port $TSHARK_PORT" -w "$TSHARK_FILE" \
        > "$FP_TMP/tshark.log" 2>&1 &
    TSHARK_PID=$!
    FP_PIDS+=("$TSHARK_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "Capturing on" "$FP_TMP/tshark.log" 2>/dev/null && return 0
        sleep 0.05
    done
    fp_log "tshark did not start: $(cat "$FP_TMP/tshark.log")"
    return 1
}

# fp_tshark_check: stop the capture; fail when no IPFIX was seen or any frame is malformed
# or carries an error-level expert item.
fp_tshark_check() {
    sleep 0.3
    kill -INT "$TSHARK_PID" 2>/dev/null
    fp_wait_pid "$TSHARK_PID" 10
    fp_forget_pid "$TSHARK_PID"
    # FlowPulse's enterprise templates have up to ~100 fields; tshark ignores templates with
    # more than cflow.max_template_fields (60 by default) and then calls the data malformed.
    local dec=(-d "$TSHARK_PROTO.port==$TSHARK_PORT,cflow" -o cflow.max_template_fields:1024)
    local n bad
    n=$(tshark -r "$TSHARK_FILE" "${dec[@]}" -Y cflow 2>/dev/null | wc -l)
    bad=$(tshark -r "$TSHARK_FILE" "${dec[@]}" -Y "_ws.malformed || _ws.expert.severity>=error" \
        2>/dev/null)
    if [ "$n" -eq 0 ]; then
        fp_log "tshark: no IPFIX message captured on $TSHARK_PROTO port $TSHARK_PORT"
        return 1
    fi
    if [ -n "$bad" ]; then
        fp_log "tshark: malformed or erroneous IPFIX:"
        echo "$bad" | head -20 >&2
        return 1
    fi
    fp_log "tshark: $n IPFIX frames, none malformed"
    return 0
}

# ---- TLS collectors shared by test_failover.sh and test_outage.sh ------------------------

# fp_wait_tcp_up PORT: something listens on the port, or the exporter is already connected
# to it (socat accepts one connection, then stops listening).
fp_wait_tcp_up() {
    local i
    for ((i = 0; i < 200; i++)); do
        ss -Htn state listening state established "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    fp_log "nothing listens on tcp port $1"
    return 1
}

# fp_tls_collector NAME PORT: socat TLS server on 127.0.0.1:PORT (certificates from $CERTS,
# client certificate required) writing FP_TMP/NAME.ipfix; sets COLL_PID.
fp_tls_collector() {
    socat -u "OPENSSL-LISTEN:$2,bind=127.0.0.1,reuseaddr,cert=$CERTS/collector.pem,key=$CERTS/collector.key,cafile=$CERTS/ca.pem,verify=1" \
        "OPEN:$FP_TMP/$1.ipfix,creat,trunc" 2> "$FP_TMP/$1.socat.log" &
    COLL_PID=$!
    FP_PIDS+=("$COLL_PID")
    fp_wait_tcp_up "$2"
}

# fp_flow_records FILE: flow records (unique) in a growing IPFIX file so far; needs RECS
# (tests/integration/ipfix_records.py).
fp_flow_records() {
    : > "$FP_TMP/snap.dump"
    if [ -s "$1" ]; then
        cp "$1" "$FP_TMP/snap.ipfix"
        ipfixDump --in "$FP_TMP/snap.ipfix" --out "$FP_TMP/snap.dump" 2>/dev/null
    fi
    "$FP_PY" "$RECS" union "$FP_TMP/snap.dump" | awk 'NR == 1 { print $2 + 0 }'
}

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# make bench: ONE table, from ONE run, comparing FlowPulse with peer flow probes on the same
# captures. Usage: scripts/bench.sh [BUILD_DIR]   (details: scripts/bench_README.md)
#
# What is measured: every row runs under build/bench_measure (scripts/bench_measure.c), which
# reaps the probe's whole process tree and reports user+sys CPU seconds of all its processes
# and threads, wall seconds and peak RSS. Mpps/CPU-s = packets / (user+sys): the per-core rate.
# Each row is the run with the median Mpps/CPU-s of BENCH_RUNS runs. Collectors (nfcapd) run
# outside the measurement: only the probe is counted.
#
# Rows per capture:
#   libpcap-read     pcap_next_ex() loop that only counts (scripts/bench_pcapread.c): the
#                    file-reading ceiling, and the capture's packet count for "exact".
#   fp-metering-only flowpulse -r FILE -o classify.enabled=false -o qoe.enabled=false: the
#                    spine's metering (issue target: >= 5 Mpps/CPU-s on bench64; goal 7.5).
#   flowpulse        flowpulse -r FILE with the defaults (classification and QoE on), one
#                    worker, IPFIX to a file, decoded with ipfixDump.
#   softflowd        fair flags from shared docs/peers.md, IPFIX over UDP to nfcapd on 127.0.0.1.
#   nfpcapd          nfpcapd -r FILE -w DIR, read back with nfdump.
#   pmacctd+nfprobe  plugin_pipe_zmq, IPFIX over UDP to nfcapd on 127.0.0.1.
#   replay:flowpulse net_pcap vdev with infinite_rx=1 for BENCH_REPLAY_SECONDS (from memory),
#                    metering only (classification and QoE off), like fp-metering-only.
#   replay:testpmd   dpdk-testpmd rxonly on the same vdev: the DPDK ceiling for that replay.
# Rows on the application-payload captures (fpgen --apps: TLS ClientHellos, QUIC Initials,
# DNS, HTTP; profiles bench64app, benchimixapp), where classification really runs:
#   fp-metering-only flowpulse -r FILE -o classify.enabled=false -o qoe.enabled=false
#   fp-classify+qoe  flowpulse -r FILE with the defaults (classification and QoE on)
# For IMIX captures a line after the table gives Gbps per worker core = bits of the frames in
# the file / CPU seconds of the whole flowpulse process (one worker).
# "exact" = the packets the probe exported (as decoded by a collector) == packets in the file.
#
# Environment:
#   BENCH_RUNS=3             runs per row (median reported; a row whose first run takes longer
#                            than BENCH_SLOW_SECONDS=60 wall seconds is run once, marked runs=1)
#   BENCH_PACKETS=N          scale the generated captures down (or up) to N packets each
#   BENCH_PROFILES="bench64 benchimix"   fpgen profiles
#   BENCH_CAPTURES="name=path ..."       use these pcaps instead of generating captures
#   BENCH_TOOLS="pcapread flowpulse-meter flowpulse softflowd nfpcapd pmacctd replay-flowpulse
#               replay-testpmd"
#   BENCH_REPLAY_SECONDS=8   length of each replay run, counted from the start of forwarding
#   BENCH_REPLAY_RUNS=1      runs per replay row (each already averages BENCH_REPLAY_SECONDS;
#                            their start-up, not counted, costs 15-80 s of wall time each)
#   BENCH_REPLAY_MAX_MB=10240 skip a replay row whose mbuf pool would need more memory
#   BENCH_FP_OPTS="..."      extra flowpulse arguments for every flowpulse row
#   BENCH_APP_PROFILES="bench64app benchimixapp"  app-payload captures ("" = none)
#   BENCH_APP_TOOLS="flowpulse-meter flowpulse-classify"  rows run on them
#   BENCH_APP_RUNS=1         runs per app row (1 keeps make bench within its time budget)
#   BENCH_APP64_PACKETS=1000000  size of bench64app (200k flows) unless BENCH_PACKETS is set:
#                            decoding a 1M-flow export back takes ~1.5 min per row
#   BENCH_ROW_LIMIT=60       per-run budget in wall seconds: a probe still running then is
#                            stopped (SIGINT, SIGKILL 10 s later) and its row shows an upper
#                            bound "<X" Mpps/CPU-s (it had not finished the file in that CPU time)
set -u
export LC_ALL=C

BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

RUNS=${BENCH_RUNS:-3}
PACKETS=${BENCH_PACKETS:-}
PROFILES=${BENCH_PROFILES:-bench64 benchimix}
TOOLS=${BENCH_TOOLS:-pcapread flowpulse-meter flowpulse softflowd nfpcapd pmacctd replay-flowpulse replay-testpmd}
REPLAY_S=${BENCH_REPLAY_SECONDS:-8}
SLOW_S=${BENCH_SLOW_SECONDS:-60}
ROW_LIMIT=${BENCH_ROW_LIMIT:-60}
REPLAY_RUNS=${BENCH_REPLAY_RUNS:-1}
REPLAY_MAX_MB=${BENCH_REPLAY_MAX_MB:-10240}
FP_OPTS=${BENCH_FP_OPTS:-}
APP_PROFILES=${BENCH_APP_PROFILES-bench64app benchimixapp}
APP_TOOLS=${BENCH_APP_TOOLS:-flowpulse-meter flowpulse-classify}
APP_RUNS=${BENCH_APP_RUNS:-1}
APP64_PACKETS=${BENCH_APP64_PACKETS:-1000000}

DIR=$BUILD/bench
WORK=$DIR/run
RESULTS=$WORK/results.txt
mkdir -p "$DIR" || exit 1
rm -rf "$WORK"
mkdir -p "$WORK"
: > "$RESULTS"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- cleanup: every background process we start is registered here -------------------------
BG_PIDS=()
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    BG_PIDS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

bg_forget() { # pid: drop from BG_PIDS once it has been stopped
    local p keep=()
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# ---- helper binaries: built by the Makefile; compiled here only if the library is broken ----
need_tool() { # name, extra libs
    local name=$1 libs=$2
    if [ -x "$BUILD/$name" ] && ! [ "scripts/$name.c" -nt "$BUILD/$name" ]; then
        echo "$BUILD/$name"; return 0
    fi
    mkdir -p "$DIR/bin"
    if [ ! -x "$DIR/bin/$name" ] || [ "scripts/$name.c" -nt "$DIR/bin/$name" ]; then
        log "$BUILD/$name missing or stale: compiling scripts/$name.c directly"
        cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$DIR/bin/$name" "scripts/$name.c" $libs || return 1
    fi
    echo "$DIR/bin/$name"
}
MEASURE=$(need_tool bench_measure "") || die "cannot build bench_measure"
PCAPREAD=$(need_tool bench_pcapread "-lpcap") || die "cannot build bench_pcapread"
FLOWPULSE=$BUILD/flowpulse

# Self-check: the CPU of a grandchild that outlives its parent (as pmacctd's plugin may) must
# be counted. The same fixed work is measured once as a direct child and once orphaned; if
# the orphan's CPU is missing, every multi-process probe would be under-counted.
WORKLOAD='i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done'
selfcheck_cpu() { # command for sh -c → cpu_s
    "$MEASURE" -o "$DIR/selfcheck.m" -- sh -c "$1" > /dev/null 2>&1
    sed -n 's/.* cpu_s=\([^ ]*\).*/\1/p' "$DIR/selfcheck.m"
    rm -f "$DIR/selfcheck.m"
}
CPU_DIRECT=$(selfcheck_cpu "$WORKLOAD")
CPU_ORPHAN=$(selfcheck_cpu "(sh -c '$WORKLOAD' &) ; true")
awk -v d="${CPU_DIRECT:-0}" -v o="${CPU_ORPHAN:-0}" 'BEGIN {exit !(d > 0 && o >= d / 2)}' ||
    die "bench_measure self-check failed: direct child ${CPU_DIRECT}s, orphan ${CPU_ORPHAN}s CPU"

# ---- loopback only: raise socket buffers so that collectors, not probes, would drop --------
RMEM_WANT=268435456
if [ "$(sysctl -n net.core.rmem_max 2>/dev/null || echo 0)" -lt $RMEM_WANT ]; then
    sysctl -q -w net.core.rmem_max=$RMEM_WANT 2>/dev/null ||
        log "warning: cannot raise net.core.rmem_max (not root?): collectors may drop"
fi

# A free UDP port on 127.0.0.1 for this run's collectors.
udp_port_free() { ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }
PORT=$((20000 + $$ % 20000))
while ! udp_port_free $PORT; do PORT=$((PORT + 1)); done

# ---- captures --------------------------------------------------------------------------------
# name → path, packets in the file, longest frame
declare -A CAP_PATH CAP_PKTS CAP_MAXLEN CAP_BYTES CAP_APP
CAP_NAMES=()

fpgen_gen() { # profile, output path [, packets (default BENCH_PACKETS)]
    local prof=$1 out=$2 fpgen=$BUILD/fpgen stamp="$2.stamp" want PACKETS=${3:-$PACKETS}
    [ -x "$fpgen" ] ||
        { log "no $fpgen (scripts/fpgen.c); set BENCH_CAPTURES=name=path"; return 1; }
    # Regenerate only when the generator's source (or binary), the profile or the size change.
    want="$( (cat scripts/fpgen.c 2>/dev/null || cat "$fpgen") | sha256sum | cut -c1-16)"
    want="$want $prof ${PACKETS:-default}"
    if [ -s "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "generating $out (fpgen profile $prof${PACKETS:+, $PACKETS packets})"
    rm -f "$out" "$stamp"
    # A scaled-down capture keeps the profile's packets per flow (bench64 5, benchimix 42).
    local flows=()
    if [ -n "$PACKETS" ]; then
        case $prof in
        bench64*) flows=(--flows $(( (PACKETS + 4) / 5 ))) ;;
        benchimix*) flows=(--flows $(( (PACKETS + 41) / 42 ))) ;;
        esac
        flows+=(--packets "$PACKETS")
    fi
    "$fpgen" --profile "$prof" "${flows[@]}" -o "$out.tmp" >&2 || {
        rm -f "$out.tmp"; log "fpgen failed for profile $prof"; return 1; }
    mv "$out.tmp" "$out" && echo "$want" > "$stamp"
}

add_capture() { # name, path
    local info
    info=$("$PCAPREAD" "$2") || { log "cannot read capture $2"; return 1; }
    CAP_NAMES+=("$1")
    CAP_PATH[$1]=$2
    CAP_PKTS[$1]=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' <<< "$info")
    CAP_MAXLEN[$1]=$(sed -n 's/.*max_caplen=\([0-9]*\).*/\1/p' <<< "$info")
    CAP_BYTES[$1]=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<< "$info")
    log "capture $1: $2, ${CAP_PKTS[$1]} packets, longest frame ${CAP_MAXLEN[$1]} B"
}

if [ -n "${BENCH_CAPTURES:-}" ]; then
    for nv in $BENCH_CAPTURES; do
        add_capture "${nv%%=*}" "$(realpath "${nv#*=}")" || die "bad BENCH_CAPTURES entry $nv"
    done
else
    for prof in $PROFILES; do
        f=$DIR/$prof${PACKETS:+-$PACKETS}.pcap
        fpgen_gen "$prof" "$f" && add_capture "$prof" "$f" || die "no capture for $prof"
    done
fi
# Application-payload captures: only the APP_TOOLS rows run on them.
for prof in $APP_PROFILES; do
    n=$PACKETS
    [ -z "$n" ] && [[ $prof == bench64* ]] && n=$APP64_PACKETS
    f=$DIR/$prof${n:+-$n}.pcap
    fpgen_gen "$prof" "$f" "$n" && add_capture "$prof" "$f" || die "no capture for $prof"
    CAP_APP[$prof]=1
done
tools_for() { if [ -n "${CAP_APP[$1]:-}" ]; then echo "$APP_TOOLS"; else echo "$TOOLS"; fi; }

# ---- measurement plumbing --------------------------------------------------------------------
# m_get FILE KEY: a value from bench_measure's line
m_get() { [ -f "$1" ] && sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | tail -n 1; }

# measure TAG [bench_measure options] -- command...: output in $WORK/TAG.{log,m}
# bench_measure runs in the background and is waited for, so that an interrupt reaches the
# trap at once (bench_measure forwards it to the probe's process group).
measure() {
    local tag=$1 mp; shift
    rm -f "$WORK/$tag.m"
    "$MEASURE" -o "$WORK/$tag.m" "$@" > "$WORK/$tag.log" 2>&1 < /dev/null &
    mp=$!
    BG_PIDS+=("$mp")
    wait "$mp"
    bg_forget "$mp"
    [ -s "$WORK/$tag.m" ] || echo "BENCH_MEASURE exit=-1 signal=0 timed_out=0 user_s=0" \
        "sys_s=0 cpu_s=0 wall_s=0 maxrss_kb=0 tree_rss_kb=0 mark_cpu_s=-1 mark_wall_s=-1" \
        > "$WORK/$tag.m"
}

# record TOOL CAP TAG PACKETS FLOWS EXACT NOTE: one line per run into $RESULTS
record() {
    local m=$WORK/$3.m rss_a rss_b
    rss_a=$(m_get "$m" maxrss_kb); rss_b=$(m_get "$m" tree_rss_kb)
    [ "${rss_b:-0}" -gt "${rss_a:-0}" ] && rss_a=$rss_b
    # tool cap tag packets flows cpu wall rss_kb exact note
    local cpu wall
    cpu=$(m_get "$m" cpu_s); wall=$(m_get "$m" wall_s)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-0}" "${5:--}" \
        "${cpu:-0}" "${wall:-0}" "${rss_a:-0}" "${6:--}" "${7:--}" >> "$RESULTS"
}

# Status of a measured run: empty when the command exited 0, else a short reason.
run_failed() { # tag
    local m=$WORK/$1.m ex sig to
    ex=$(m_get "$m" exit); sig=$(m_get "$m" signal); to=$(m_get "$m" timed_out)
    [ "$to" = 1 ] && { echo "stopped at the ${ROW_LIMIT}s limit"; return; }
    [ "$ex" = 0 ] && return
    local why
    why=$(grep -m1 -iE 'error|fatal|cannot|invalid|unknown|usage|fail' "$WORK/$1.log" | cut -c1-60)
    [ "$sig" != 0 ] && echo "killed by signal $sig${why:+: $why}" && return
    echo "exit $ex${why:+: $why}"
}

# A file row that hit BENCH_ROW_LIMIT: the probe had not finished the file in that time.
hit_limit() { [ "$(m_get "$WORK/$1.m" timed_out)" = 1 ]; }

# ---- collector: nfcapd on 127.0.0.1:$PORT -----------------------------------------------------
COLL_PID=
collector_start() { # dir
    rm -rf "$1"; mkdir -p "$1"
    nfcapd -b 127.0.0.1 -p $PORT -w "$1" -B $RMEM_WANT -t 3600 > "$1.log" 2>&1 &
    COLL_PID=$!
    BG_PIDS+=("$COLL_PID")
    local _
    for _ in $(seq 50); do
        ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    log "nfcapd did not start: $(tail -n 2 "$1.log")"
    return 1
}
# Wait until the collector's socket queue stayed empty for 0.5 s, then stop it (it writes
# its file on SIGTERM).
collector_stop() {
    local q quiet=0
    for _ in $(seq 600); do
        q=$(ss -Hlun "sport = :$PORT" 2>/dev/null | awk '{print $2; exit}')
        if [ "${q:-0}" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
        [ $quiet -ge 5 ] && break
        sleep 0.1
    done
    kill -TERM "$COLL_PID" 2>/dev/null
    wait "$COLL_PID" 2>/dev/null
    bg_forget "$COLL_PID"
    COLL_PID=
}
# nfdump_totals DIR: "packets flows" of everything the collector (or nfpcapd) stored
nfdump_totals() {
    nfdump -R "$1" -I 2>/dev/null |
        awk '/^Flows:/ {f = $2} /^Packets:/ {p = $2}
             END {print (p == "" ? "?" : p), (f == "" ? "?" : f)}'
}

# ipfix_totals FILE: "packets records" from an IPFIX file (packetDeltaCount and its reverse)
ipfix_totals() {
    local ef=()
    [ -f ie-defs/flowpulse.xml ] && ef=(--element-file ie-defs/flowpulse.xml)
    ipfixDump "${ef[@]}" -d -i "$1" 2>/dev/null |
        awk '$0 ~ /[Pp]acketDeltaCount :/ {p += $NF} / packetDeltaCount :/ {r++}
             END {printf "%d %d\n", p, r}'
}

exact_word() { # exported, expected
    [ "$1" = "$2" ] && echo yes && return
    echo "no($1)"
}

# ---- the rows --------------------------------------------------------------------------------
row_pcapread() { # cap tag
    measure "$2" -t "$ROW_LIMIT" -- "$PCAPREAD" "${CAP_PATH[$1]}"
    local bad p
    bad=$(run_failed "$2")
    [ -n "$bad" ] && { record libpcap-read "$1" "$2" 0 - - "n/a ($bad)"; return; }
    p=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$WORK/$2.log")
    record libpcap-read "$1" "$2" "$p" - "-" ""
}

fp_note() { # tag: flowpulse's own exit accounting, for the log
    grep -m1 -o 'packets received [0-9]*' "$WORK/$1.log" | awk '{print $3}'
}

fp_file_row() { # name cap tag [flowpulse options]
    local name=$1 cap=$2 tag=$3; shift 3
    [ -x "$FLOWPULSE" ] || { record "$name" "$cap" "$tag" 0 - - "n/a (no $FLOWPULSE)"; return; }
    local out=$WORK/$tag.ipfix bad
    rm -f "$out"
    # shellcheck disable=SC2086
    measure "$tag" -t "$ROW_LIMIT" -- "$FLOWPULSE" -r "${CAP_PATH[$cap]}" -w 1 \
        -o capture.progress=false -e "file:$out" "$@" $FP_OPTS
    hit_limit "$tag" &&
        { record "$name" "$cap" "$tag" "${CAP_PKTS[$cap]}" - stopped limit; return; }
    bad=$(run_failed "$tag")
    [ -n "$bad" ] && { record "$name" "$cap" "$tag" 0 - - "n/a ($bad)"; return; }
    # Decoded later (ipfixDump is slow): only the median run's file is read back.
    record "$name" "$cap" "$tag" "${CAP_PKTS[$cap]}" "?" "?" "ipfix=$out rx=$(fp_note "$tag")"
}
row_flowpulse() { fp_file_row flowpulse "$1" "$2"; }
row_flowpulse_meter() {
    fp_file_row fp-metering-only "$1" "$2" -o classify.enabled=false -o qoe.enabled=false
}
row_flowpulse_classify() { fp_file_row fp-classify+qoe "$1" "$2"; }

row_softflowd() { # cap tag
    local d=$WORK/$2.nfcapd bad tot
    collector_start "$d" || { record softflowd "$1" "$2" 0 - - "n/a (collector)"; return; }
    measure "$2" -t "$ROW_LIMIT" -- softflowd -d -c none -r "${CAP_PATH[$1]}" -m 4000000 \
        -v 10 -n 127.0.0.1:$PORT -p "$WORK/$2.pid"
    collector_stop
    hit_limit "$2" && { record softflowd "$1" "$2" "${CAP_PKTS[$1]}" - stopped limit; return; }
    bad=$(run_failed "$2")
    [ -n "$bad" ] && { record softflowd "$1" "$2" 0 - - "n/a ($bad)"; return; }
    tot=$(nfdump_totals "$d")
    record softflowd "$1" "$2" "${CAP_PKTS[$1]}" "${tot#* }" \
        "$(exact_word "${tot% *}" "${CAP_PKTS[$1]}")" ""
    rm -rf "$d"
}

row_nfpcapd() { # cap tag
    local d=$WORK/$2.nfpcapd bad tot
    rm -rf "$d"; mkdir -p "$d"
    measure "$2" -t "$ROW_LIMIT" -- nfpcapd -r "${CAP_PATH[$1]}" -w "$d"
    hit_limit "$2" && { record nfpcapd "$1" "$2" "${CAP_PKTS[$1]}" - stopped limit; return; }
    bad=$(run_failed "$2")
    [ -n "$bad" ] && { record nfpcapd "$1" "$2" 0 - - "n/a ($bad)"; return; }
    tot=$(nfdump_totals "$d")
    record nfpcapd "$1" "$2" "${CAP_PKTS[$1]}" "${tot#* }" \
        "$(exact_word "${tot% *}" "${CAP_PKTS[$1]}")" ""
    rm -rf "$d"
}

row_pmacctd() { # cap tag
    local d=$WORK/$2.nfcapd conf=$WORK/$2.conf bad tot
    cat > "$conf" <<EOF
daemonize: false
pcap_savefile: ${CAP_PATH[$1]}
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:$PORT
nfprobe_version: 10
nfprobe_maxflows: 4000000
plugin_pipe_zmq: true
EOF
    collector_start "$d" || { record pmacctd+nfprobe "$1" "$2" 0 - - "n/a (collector)"; return; }
    measure "$2" -t "$ROW_LIMIT" -- pmacctd -f "$conf"
    collector_stop
    hit_limit "$2" &&
        { record pmacctd+nfprobe "$1" "$2" "${CAP_PKTS[$1]}" - stopped limit; return; }
    bad=$(run_failed "$2")
    [ -n "$bad" ] && { record pmacctd+nfprobe "$1" "$2" 0 - - "n/a ($bad)"; return; }
    tot=$(nfdump_totals "$d")
    record pmacctd+nfprobe "$1" "$2" "${CAP_PKTS[$1]}" "${tot#* }" \
        "$(exact_word "${tot% *}" "${CAP_PKTS[$1]}")" ""
    rm -rf "$d"
}

# DPDK memory for an infinite_rx replay: net_pcap loads the whole file into mbufs, one per
# packet (it refuses chained mbufs in infinite_rx mode), so each mbuf must hold the longest
# frame, and the pool needs packets + 20000 of them.
replay_sizes() { # cap → sets MBUFS MBUF_SIZE MEM_MB
    MBUFS=$((CAP_PKTS[$1] + 20000))
    MBUF_SIZE=$(( (CAP_MAXLEN[$1] + 128 + 63) / 64 * 64 ))
    MEM_MB=$(pool_mb "$MBUF_SIZE")
}
# pool_mb DATA_ROOM: EAL memory (-m) for MBUFS mbufs without hugepages. A mempool object is a
# 64-byte header + the 128-byte rte_mbuf + the data room, and objects do not straddle the
# 4 KB pages of --no-huge memory; plus 512 MB for everything else.
pool_mb() {
    local obj=$((64 + 128 + $1)) per_page
    per_page=$((4096 / obj)); [ $per_page -ge 1 ] || per_page=1
    echo $(( (MBUFS + per_page - 1) / per_page * 4096 / 1048576 + 512 ))
}

# record_replay TOOL CAP TAG PACKETS FLOWS EXACT NOTE: like record, but CPU and wall seconds
# count from the mark (forwarding started), so start-up (EAL memory, loading the file into
# mbufs) is left out of Mpps/CPU-s; the start-up CPU goes into the note.
record_replay() {
    local m=$WORK/$3.m mc mw
    mc=$(m_get "$m" mark_cpu_s); mw=$(m_get "$m" mark_wall_s)
    if awk -v x="${mc:--1}" 'BEGIN {exit !(x < 0)}'; then
        record "$1" "$2" "$3" 0 - - "n/a (never started: $(run_failed "$3"))"
        return
    fi
    record "$1" "$2" "$3" "$4" "$5" "$6" "$7 startup_cpu=$mc"
    # replace cpu and wall by their part after the mark
    awk -F'\t' -v OFS='\t' -v tag="$3" -v mc="$mc" -v mw="$mw" \
        '$3 == tag {$6 = sprintf("%.3f", $6 - mc); $7 = sprintf("%.3f", $7 - mw)} {print}' \
        "$RESULTS" > "$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
}

row_replay_testpmd() { # cap tag
    command -v dpdk-testpmd > /dev/null ||
        { record replay:testpmd "$1" "$2" 0 - - "n/a (no dpdk-testpmd)"; return; }
    replay_sizes "$1"
    [ "$MEM_MB" -le "$REPLAY_MAX_MB" ] || { record replay:testpmd "$1" "$2" 0 - - \
        "n/a (needs $MEM_MB MB > BENCH_REPLAY_MAX_MB=$REPLAY_MAX_MB)"; return; }
    local p
    # Non-interactive testpmd forwards until its stdin ends, then prints the stats: stdin is a
    # pipe that bench_measure closes REPLAY_S after "Press enter to exit" (forwarding runs);
    # stdbuf makes that line reach the log when it is printed.
    measure "$2" -P -s 0 -W "$WORK/$2.log" -m "Press enter to exit" -t "$REPLAY_S" \
        -T $((REPLAY_S + 300)) -- stdbuf -oL dpdk-testpmd \
        -l 0,1 --no-huge -m "$MEM_MB" --no-pci --no-shconf --file-prefix=fpbench$$ \
        --vdev="net_pcap0,rx_pcap=${CAP_PATH[$1]},infinite_rx=1" -- --no-flush-rx \
        --total-num-mbufs=$MBUFS --mbuf-size=$MBUF_SIZE --forward-mode=rxonly
    p=$(awk '/RX-packets:/ {p = $2} END {print p + 0}' "$WORK/$2.log")
    [ "$p" -gt 0 ] ||
        { record replay:testpmd "$1" "$2" 0 - - "n/a (no RX-packets: $(run_failed "$2"))"; return; }
    record_replay replay:testpmd "$1" "$2" "$p" - "-" ""
}

row_replay_flowpulse() { # cap tag
    [ -x "$FLOWPULSE" ] ||
        { record replay:flowpulse "$1" "$2" 0 - - "n/a (no $FLOWPULSE)"; return; }
    replay_sizes "$1"
    local out=$WORK/$2.ipfix conf=$WORK/$2.conf bad size_opt=() eal
    # flowpulse sizes its EAL memory itself from capture.mbufs and capture.mbuf_size (each
    # mbuf also carries the decoded packet in its private area): the same estimate here.
    # Without a configurable mbuf size its pool uses DPDK's default 2176-byte buffers.
    if "$FLOWPULSE" --dump-config 2>/dev/null | grep -q 'mbuf_size'; then
        size_opt=(-o "capture.mbuf_size=$MBUF_SIZE")
        MEM_MB=$(( MBUFS * (MBUF_SIZE + 512) / 1048576 + 128 ))
        eal="--no-huge --no-pci --in-memory"
    else
        MEM_MB=$(pool_mb 2176)
        eal="--no-huge --no-pci --in-memory -m $MEM_MB"
    fi
    [ "$MEM_MB" -le "$REPLAY_MAX_MB" ] || { record replay:flowpulse "$1" "$2" 0 - - \
        "n/a (needs $MEM_MB MB > BENCH_REPLAY_MAX_MB=$REPLAY_MAX_MB)"; return; }
    rm -f "$out"
    # Ports are a list: only a configuration file can set them.
    cat > "$conf" <<EOF
capture = {
    ports = ( { device = "net_pcap0,rx_pcap=${CAP_PATH[$1]},infinite_rx=1"; } );
};
EOF
    # shellcheck disable=SC2086
    measure "$2" -W "$WORK/$2.log" -m "worker(s)" -T $((REPLAY_S + 300)) -- \
        "$FLOWPULSE" -c "$conf" -w 1 \
        -o "capture.eal_args=$eal" \
        -o "capture.duration=$REPLAY_S" -o "capture.mbufs=$MBUFS" "${size_opt[@]}" \
        -o capture.progress=false -o classify.enabled=false -o qoe.enabled=false \
        -e "file:$out" $FP_OPTS
    bad=$(run_failed "$2")
    [ -n "$bad" ] && { record replay:flowpulse "$1" "$2" 0 - - "n/a ($bad)"; return; }
    # Packets: flowpulse's own receive count, checked against the decoded records later.
    record_replay replay:flowpulse "$1" "$2" "$(fp_note "$2")" "?" "?" \
        "ipfix=$out rx=$(fp_note "$2")"
}

# ---- run everything ---------------------------------------------------------------------------
T0=$SECONDS
for cap in "${CAP_NAMES[@]}"; do
    cat "${CAP_PATH[$cap]}" > /dev/null # into the page cache before anything is timed
    for tool in $(tools_for "$cap"); do
        fn=row_${tool//-/_}
        declare -F "$fn" > /dev/null || die "unknown tool $tool (BENCH_TOOLS)"
        n=$RUNS
        [[ $tool == replay-* ]] && n=$REPLAY_RUNS
        [ -n "${CAP_APP[$cap]:-}" ] && n=$APP_RUNS
        for r in $(seq "$n"); do
            tag=$tool-$cap-$r
            log "$tag ..."
            "$fn" "$cap" "$tag"
            w=$(m_get "$WORK/$tag.m" wall_s || true)
            if [ "$r" = 1 ] && [ "$n" -gt 1 ] &&
                awk -v w="${w:-0}" -v s="$SLOW_S" 'BEGIN {exit !(w > s)}'; then
                log "$tag took ${w}s (> BENCH_SLOW_SECONDS=$SLOW_S): one run only"
                break
            fi
            # no point repeating a row that cannot run
            tail -n 1 "$RESULTS" | cut -f10 | grep -q '^n/a' && break
        done
    done
done

# ---- table ------------------------------------------------------------------------------------
# For each (tool, capture): the run with the median Mpps/CPU-s. flowpulse rows are decoded
# (ipfixDump) for that run only.
pick_median() { # tool cap → the chosen result line
    awk -F'\t' -v t="$1" -v c="$2" '$1 == t && $2 == c' "$RESULTS" |
        awk -F'\t' '{r = ($6 > 0 && $10 !~ /^n\/a/) ? $4 / $6 : -1; print r "\t" $0}' |
        sort -g -k1,1 | cut -f2- | awk '{l[NR] = $0} END {if (NR) print l[int((NR + 1) / 2)]}'
}

printf '\n'
FMT='%-17s %-12s %11s %9s %10s %7s %7s %8s %8s %-10s %4s\n'
printf "$FMT" tool capture packets flows Mpps/CPU-s "CPU s" "wall s" "RSS MB" "B/flow" exact runs
printf "$FMT" ----------------- ------------ ----------- --------- ---------- ------- ------- \
    -------- -------- ---------- ----
declare -A RATE CPU
for cap in "${CAP_NAMES[@]}"; do
    for tool in $(tools_for "$cap"); do
        case $tool in
        pcapread) name=libpcap-read ;; pmacctd) name=pmacctd+nfprobe ;;
        flowpulse-meter) name=fp-metering-only ;; flowpulse-classify) name=fp-classify+qoe ;;
        replay-*) name=replay:${tool#replay-} ;; *) name=$tool ;;
        esac
        line=$(pick_median "$name" "$cap")
        [ -n "$line" ] || continue
        runs=$(awk -F'\t' -v t="$name" -v c="$cap" '$1 == t && $2 == c' "$RESULTS" | wc -l)
        IFS=$'\t' read -r _ _ tag pk fl cpu wall rss ex note <<< "$line"
        if [[ $note == n/a* ]]; then
            printf '%-17s %-12s %s\n' "$name" "$cap" "$note"
            continue
        fi
        if [ "$note" = limit ]; then # stopped before the end of the file: an upper bound
            mpps=$(awk -v p="$pk" -v c="$cpu" 'BEGIN {printf (c > 0 ? "<%.2f" : "-"), p / c / 1e6}')
            rssmb=$(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}')
            printf "$FMT" "$name" "$cap" "$pk" - "$mpps" "$cpu" "$wall" "$rssmb" - \
                "stop@${ROW_LIMIT}s" "$runs"
            continue
        fi
        if [[ $note == ipfix=* ]]; then # flowpulse: decode the export of this run
            f=${note#ipfix=}; f=${f%% *}; rx=$(sed -n 's/.*rx=\([0-9]*\).*/\1/p' <<< "$note")
            log "decoding $f"
            read -r xp fl <<< "$(ipfix_totals "$f")"
            if [[ $name != replay:* ]]; then
                ex=$(exact_word "$xp" "${CAP_PKTS[$cap]}")
            else # replay: exported packets must equal what flowpulse says it received
                [ -n "$pk" ] || pk=$xp
                ex="$(exact_word "$xp" "$pk")/rx"
            fi
            [ -n "$rx" ] && [[ $name != replay:* ]] && [ "$rx" != "${CAP_PKTS[$cap]}" ] &&
                log "flowpulse says it received $rx packets, the file holds ${CAP_PKTS[$cap]}"
        fi
        mpps=$(awk -v p="$pk" -v c="$cpu" 'BEGIN {printf (c > 0 ? "%.2f" : "-"), p / c / 1e6}')
        RATE[$name,$cap]=$mpps
        CPU[$name,$cap]=$cpu
        rssmb=$(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}')
        bpf=$(awk -v k="$rss" -v f="$fl" \
            'BEGIN {if (f + 0 > 0) printf "%.0f", k * 1024 / f; else printf "-"}')
        printf "$FMT" "$name" "$cap" "$pk" "$fl" "$mpps" "$cpu" "$wall" "$rssmb" "$bpf" "$ex" \
            "$runs"
    done
done

ratio() { awk -v a="${RATE[$1]:-}" -v b="${RATE[$2]:-}" \
    'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "n/a"}'; }
line="ratios (Mpps/CPU-s):"
for cap in "${CAP_NAMES[@]}"; do
    [ -n "${CAP_APP[$cap]:-}" ] && continue
    line="$line  $cap: metering-only/softflowd $(ratio "fp-metering-only,$cap" "softflowd,$cap"),"
    line="$line flowpulse/softflowd $(ratio "flowpulse,$cap" "softflowd,$cap"),"
    line="$line flowpulse/libpcap-ceiling $(ratio "flowpulse,$cap" "libpcap-read,$cap"),"
    line="$line replay flowpulse/testpmd $(ratio "replay:flowpulse,$cap" "replay:testpmd,$cap");"
done
echo "$line"
# The spine's target (metering only, 64-byte frames over ~1M flows, from the file).
for cap in "${CAP_NAMES[@]}"; do
    [ "$cap" = bench64 ] && [ -n "${RATE[fp-metering-only,$cap]:-}" ] || continue
    awk -v r="${RATE[fp-metering-only,$cap]}" 'BEGIN {printf "target: fp-metering-only on " \
        "bench64 %s Mpps/CPU-s: %s (>= 5; project goal >= 7.5)\n", r,
        (r + 0 >= 5 ? "met" : "NOT met")}'
done
# Classification cost and Gbps per worker core on the app-payload captures.
gbps() { # name cap → Gbps per core (frame bits / CPU s), or n/a
    awk -v b="${CAP_BYTES[$2]:-0}" -v c="${CPU[$1,$2]:-0}" \
        'BEGIN {if (b > 0 && c > 0) printf "%.2f", b * 8 / c / 1e9; else printf "n/a"}'
}
for cap in "${CAP_NAMES[@]}"; do
    [ -n "${CAP_APP[$cap]:-}" ] || continue
    line="$cap: classification+QoE / metering-only Mpps/CPU-s"
    line="$line $(ratio "fp-classify+qoe,$cap" "fp-metering-only,$cap")"
    if [[ $cap == *imix* ]]; then
        line="$line; Gbps per worker core (frame bits / CPU s of the whole process):"
        line="$line metering only $(gbps fp-metering-only "$cap"),"
        line="$line classification + QoE $(gbps fp-classify+qoe "$cap") (goal >= 10)"
    fi
    echo "$line"
done
if [ -n "$APP_PROFILES" ]; then
    echo "(app-payload captures: $APP_RUNS run(s) per row (BENCH_APP_RUNS);" \
         "bench64app ${PACKETS:-$APP64_PACKETS} packets (BENCH_APP64_PACKETS), reduced to keep" \
         "make bench within its time; 64-byte profile: handshake and DNS/NTP/QUIC Initial" \
         "packets at natural size, the rest 64 B)"
fi
echo "(median of $RUNS runs ($REPLAY_RUNS for replays) by Mpps/CPU-s; CPU = user+sys of the" \
     "probe's whole process tree; RSS = peak; exact = exported packets == packets in the file;" \
     "total $((SECONDS - T0)) s)"

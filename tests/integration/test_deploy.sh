#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Deployment: man pages render without warnings and flowpulse.conf(5) is generated from the
# example (fresh, and naming every setting --dump-config prints); `make install` into a
# DESTDIR installs everything with the unit's paths rewritten to PREFIX; systemd-analyze
# verify accepts both units (when installed); the privilege drop (daemon.user=nobody) takes
# effect on every thread while flowpulse runs, the export file is still written correctly and
# the spool directory is handed over; an unknown user exits 2 and a refused hand-over exits 1;
# log targets: journal (<N> prefixes, levels honoured, chosen by JOURNAL_STREAM under
# "auto"), stderr, and syslog (a private /dev/log in a mount namespace, when possible).
. "$(dirname "$0")/lib.sh"
fp_lib_init deploy
fp_need_flowpulse
fp_need python3

FAILS=0
check() { # check DESCRIPTION COMMAND...: PASS/FAIL line per check
    local what=$1
    shift
    if "$@"; then
        fp_pass "$what"
    else
        fp_fail "$what"
        FAILS=$((FAILS + 1))
    fi
}
FP=$FP_BUILD/flowpulse
cd "$FP_ROOT" || exit 1

# ---- man pages ----
man_clean() { # render one page; any warning fails
    local w
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
    [ -z "$w" ] || { fp_log "$1: $w"; return 1; }
    LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$1" 2>/dev/null | grep -q "$2"
}
if command -v man >/dev/null && command -v groff >/dev/null; then
    check "flowpulse.8 renders without warnings" man_clean conf/flowpulse.8 "EXIT STATUS"
    check "flowpulsectl.8 renders without warnings" man_clean conf/flowpulsectl.8 "COMMANDS"
    check "flowpulse.conf.5 renders without warnings" man_clean conf/flowpulse.conf.5 "SECTION log"
else
    fp_skip "man or groff missing (scripts/install-deps.sh installs man-db, groff-base)"
fi

conf5_fresh() {
    "$FP_PY" scripts/gen-man-conf.py flowpulse.conf.example > "$FP_TMP/conf.5" &&
        diff -u conf/flowpulse.conf.5 "$FP_TMP/conf.5" >&2
}
check "conf/flowpulse.conf.5 equals scripts/gen-man-conf.py flowpulse.conf.example" conf5_fresh

# Every scalar setting of the table (as --dump-config prints it) and every list is an entry
# of the page (".BI \"section.name = \"" or ".BR section.name").
conf5_complete() {
    local missing
    missing=$("$FP" --dump-config | "$FP_PY" -c '
import re, sys
page = open("conf/flowpulse.conf.5").read().replace("\\-", "-")
section, names = None, []
for line in sys.stdin:
    m = re.match(r"^([a-z_]+) = \{", line)
    if m:
        section = m.group(1)
        continue
    m = re.match(r"^    ([a-z_]+) = [^{(]", line)
    if m and section:
        names.append(section + "." + m.group(1))
    m = re.match(r"^    #? ?([a-z_]+) = \(", line)
    if m and section:
        names.append(section + "." + m.group(1))
miss = [n for n in names
        if (".BI \"%s = \"" % n) not in page and (".BR %s " % n) not in page]
print(" ".join(miss) if miss else "", end="")
print(len(names), file=sys.stderr)
' 2> "$FP_TMP/nsettings")
    local n
    n=$(cat "$FP_TMP/nsettings")
    [ -z "$missing" ] && [ "$n" -ge 40 ] || { fp_log "not in flowpulse.conf(5): $missing ($n settings)"; return 1; }
}
check "flowpulse.conf.5 documents every setting of --dump-config" conf5_complete

# ---- install ----
DEST=$FP_TMP/dest
install_ok() {
    make -s --no-print-directory BUILD="$FP_BUILD" install DESTDIR="$DEST" PREFIX=/usr \
        > "$FP_TMP/install.log" 2>&1 || { cat "$FP_TMP/install.log" >&2; return 1; }
    local f bad=0
    for f in usr/bin/flowpulse usr/bin/flowpulsectl usr/bin/flowpulse-relay \
        usr/share/man/man8/flowpulse.8 usr/share/man/man8/flowpulsectl.8 \
        usr/share/man/man5/flowpulse.conf.5 usr/lib/systemd/system/flowpulse.service \
        usr/lib/systemd/system/flowpulse-relay.service etc/flowpulse/flowpulse.conf \
        etc/flowpulse/flowpulse.conf.example etc/flowpulse/flowpulse-relay.conf.example \
        usr/share/snmp/mibs/FLOWPULSE-MIB.txt usr/share/flowpulse/ie-defs/flowpulse.xml \
        usr/share/flowpulse/kits/pmacct/flowpulse_primitives usr/share/flowpulse/scripts/dpdk-setup.sh; do
        [ -s "$DEST/$f" ] || { fp_log "not installed: $f"; bad=1; }
    done
    grep -qx 'ExecStart=/usr/bin/flowpulse -c /etc/flowpulse/flowpulse.conf' \
        "$DEST/usr/lib/systemd/system/flowpulse.service" || { fp_log "ExecStart not rewritten"; bad=1; }
    ! grep -q /usr/local "$DEST"/usr/lib/systemd/system/*.service || { fp_log "/usr/local left in units"; bad=1; }
    # The operator's configuration is never overwritten by a second install.
    echo "# mine" >> "$DEST/etc/flowpulse/flowpulse.conf"
    make -s --no-print-directory BUILD="$FP_BUILD" install DESTDIR="$DEST" PREFIX=/usr > /dev/null 2>&1 &&
        grep -q "# mine" "$DEST/etc/flowpulse/flowpulse.conf" || { fp_log "flowpulse.conf overwritten"; bad=1; }
    [ $bad = 0 ]
}
check "make install DESTDIR PREFIX=/usr installs binaries, man pages, units, config, MIB, IEs, kits" install_ok

unit_required() { # the unit's required settings
    local u=$DEST/usr/lib/systemd/system/flowpulse.service k bad=0
    for k in 'Type=simple' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
        'LimitMEMLOCK=infinity' 'RuntimeDirectory=flowpulse' 'StandardError=journal'; do
        grep -qxF "$k" "$u" || { fp_log "flowpulse.service lacks $k"; bad=1; }
    done
    [ $bad = 0 ]
}
check "flowpulse.service: simple, reload by SIGHUP, restart on failure, memlock, /run/flowpulse, journal" unit_required

if command -v systemd-analyze >/dev/null; then
    # The installed units, with ExecStart pointing into DESTDIR (verify requires an
    # executable) and man pages looked up there; any message (unknown key, bad value, missing
    # executable or man page) fails. Does not need systemd to be running.
    verify_units() {
        local u out rc=0
        mkdir -p "$FP_TMP/units"
        for u in flowpulse.service flowpulse-relay.service; do
            [ -f "$DEST/usr/lib/systemd/system/$u" ] || return 1
            sed "s|=/usr/bin/|=$DEST/usr/bin/|" "$DEST/usr/lib/systemd/system/$u" > "$FP_TMP/units/$u"
            out=$(MANPATH=$DEST/usr/share/man systemd-analyze verify "$FP_TMP/units/$u" 2>&1)
            if [ -n "$out" ]; then
                fp_log "systemd-analyze verify $u: $out"
                rc=1
            fi
        done
        return $rc
    }
    check "systemd-analyze verify accepts both installed units" verify_units
else
    fp_skip "systemd-analyze not installed (Debian package systemd): units not verified"
fi

# ---- privilege drop ----
CAP=$FP_TMP/mix.pcap
fp_gen_mix "$CAP" || { fp_fail "cannot generate the mix capture"; exit 1; }
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
    fp_skip "privilege drop: needs root and the user nobody"
else
    NB_UID=$(id -u nobody)
    NB_GID=$(id -g nobody)
    OUT=$FP_TMP/private      # root-only: nobody could not create a file here
    mkdir -m 0700 "$OUT" "$FP_TMP/spool"
    DEAD=$(fp_free_port tcp) # nothing listens: records of that collector go to the spool
    "$FP" -r "$CAP" -o capture.progress=false -o capture.pace=0.3 -o daemon.user=nobody \
        -o control.socket="" -o export.spool_dir="$FP_TMP/spool" -o export.queue_records=0 \
        -o export.drain_timeout=0 -e "file:$OUT/flows.ipfix" -e "tcp://127.0.0.1:$DEAD" \
        > "$FP_TMP/drop.log" 2>&1 &
    PID=$!
    FP_PIDS+=("$PID")
    ids_ok=0 seen=0
    for ((i = 0; i < 100; i++)); do
        if grep -q "running as user" "$FP_TMP/drop.log"; then
            seen=1
            break
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    # Every thread (main, EAL interrupt, workers, distributor, exporter) must be nobody.
    if [ $seen = 1 ] && kill -0 "$PID" 2>/dev/null; then
        ids_ok=1
        for t in /proc/$PID/task/*; do
            u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$t/status")
            g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$t/status")
            if [ "$u" != "$NB_UID $NB_UID $NB_UID $NB_UID" ] || [ "$g" != "$NB_GID $NB_GID $NB_GID $NB_GID" ]; then
                fp_log "task $(cat "$t/comm" 2>/dev/null): Uid $u Gid $g"
                ids_ok=0
            fi
        done
        ntasks=$(ls /proc/$PID/task | wc -l)
        fp_log "$ntasks threads of pid $PID checked: Uid/Gid $NB_UID/$NB_GID"
        [ "$ntasks" -ge 3 ] || ids_ok=0
        grep -q "^CapEff:[[:space:]]*0*$" /proc/$PID/status || { fp_log "capabilities left: $(grep CapEff /proc/$PID/status)"; ids_ok=0; }
        kill -0 "$PID" 2>/dev/null || ids_ok=0   # still running: the check saw the live process
    fi
    fp_wait_pid "$PID" 60
    rc=$?
    fp_forget_pid "$PID"
    check "daemon.user=nobody: every thread runs as uid $NB_UID gid $NB_GID without capabilities while capturing" test $ids_ok = 1
    check "daemon.user=nobody: exit status 0 and 'running as user nobody' logged" \
        eval "[ $rc = 0 ] && grep -q 'running as user nobody (uid $NB_UID)' '$FP_TMP/drop.log'"
    [ $rc = 0 ] || cat "$FP_TMP/drop.log" >&2
    export_ok() {
        [ "$(stat -c %u "$OUT/flows.ipfix")" = 0 ] || { fp_log "export file not created by root"; return 1; }
        fp_need ipfixDump
        ipfixDump --in "$OUT/flows.ipfix" --out "$FP_TMP/dump.txt" 2> "$FP_TMP/ipfixdump.err" || return 1
        "$FP_PY" "$FP_COMPARE" --normalize ipfixdump < "$FP_TMP/dump.txt" > "$FP_TMP/got" &&
            fp_truth "$CAP" "$FP_TMP/truth" && fp_compare "$FP_TMP/truth" "$FP_TMP/got" "file after drop" >&2
    }
    check "daemon.user=nobody: file export (opened before the drop, root-only directory) equals ground truth" export_ok
    spool_ok() {
        local d n=0
        [ "$(stat -c %u:%g "$FP_TMP/spool")" = "$NB_UID:$NB_GID" ] || return 1
        for d in "$FP_TMP"/spool/*/; do
            [ "$(stat -c %u "$d")" = "$NB_UID" ] || return 1
            n=$((n + 1))
        done
        [ $n -ge 1 ]
    }
    check "daemon.user=nobody: spool directory and its lanes handed over to nobody" spool_ok

    bad_user() {
        local out rc
        out=$(timeout 20 "$FP" -r "$CAP" -o daemon.user=fp-no-such-user -o control.socket="" 2>&1)
        rc=$?
        [ $rc = 2 ] && grep -q 'daemon.user: no such user "fp-no-such-user"' <<< "$out" &&
            ! grep -q "packets received" <<< "$out"
    }
    check "unknown daemon.user: exit status 2 before capture starts" bad_user
    shared_spool() {
        local out rc
        mkdir -m 1777 "$FP_TMP/shared"
        out=$(timeout 30 "$FP" -r "$CAP" -o capture.progress=false -o daemon.user=nobody \
            -o control.socket="" -o export.spool_dir="$FP_TMP/shared" 2>&1)
        rc=$?
        [ $rc = 1 ] && grep -q "daemon.user: export.spool_dir: .* is shared" <<< "$out" &&
            ! grep -q "running as user" <<< "$out" &&
            [ "$(stat -c %u "$FP_TMP/shared")" = 0 ] || { fp_log "rc $rc: $out"; return 1; }
    }
    check "refused hand-over of a shared spool directory: exit status 1, no switch, nothing chowned" shared_spool
fi

# ---- log targets ----
SMALL=(-r "$CAP" -o capture.progress=false -o control.socket="" "${FP_SMALL_RUN_OPTS[@]}")
journal_lines() {
    local log=$FP_TMP/journal.log
    : > "$log"
    # JOURNAL_STREAM names the file stderr points to, as systemd does for a service.
    ( exec 2> "$log"; JOURNAL_STREAM=$(stat -c '%d:%i' "$log") exec "$FP" "${SMALL[@]}" ) >/dev/null || return 1
    grep -q '^<5>main: packets received 1020 ' "$log" || { cat "$log" >&2; return 1; }
    ! grep -q '^flowpulse: ' "$log"
}
check "log.target auto under JOURNAL_STREAM: <N>module: lines with syslog priorities" journal_lines
journal_levels() {
    local log=$FP_TMP/jl.log
    "$FP" "${SMALL[@]}" -o log.target=journal -o log.level=warning > /dev/null 2> "$log" || return 1
    # "no collector configured" is a warning; the notice accounting line is filtered out.
    grep -q '^<4>main: no collector configured' "$log" && ! grep -q '^<[567]>' "$log" &&
        ! grep -q 'packets received' "$log"
}
check "log.target journal with log.level warning: only <3>/<4> lines" journal_levels
stderr_plain() {
    local log=$FP_TMP/plain.log
    JOURNAL_STREAM=1:1 "$FP" "${SMALL[@]}" > /dev/null 2> "$log" || return 1
    grep -q '^flowpulse: notice: main: packets received 1020 ' "$log" && ! grep -q '^<[0-7]>' "$log"
}
check "log.target auto without a journal stream: plain stderr lines" stderr_plain

syslog_test() {
    local d=$FP_TMP/syslog
    mkdir -p "$d/upper" "$d/work" "$d/sock"
    : > "$d/upper/log"
    socat -u "UNIX-RECV:$d/sock/log,mode=666" "OPEN:$d/received,creat,append" 2> "$d/socat.err" &
    local sp=$!
    FP_PIDS+=("$sp")
    for ((i = 0; i < 50; i++)); do [ -S "$d/sock/log" ] && break; sleep 0.05; done
    # A private mount namespace: /dev overlaid so that /dev/log is our socket.
    unshare -m bash -c "mount -t overlay overlay -o lowerdir=/dev,upperdir=$d/upper,workdir=$d/work /dev &&
        mount --bind $d/sock/log /dev/log" 2> "$d/mount.err" || return 2
    unshare -m bash -c 'mount -t overlay overlay -o lowerdir=/dev,upperdir="$1/upper",workdir="$1/work" /dev &&
        mount --bind "$1/sock/log" /dev/log && shift && exec "$@"' _ "$d" \
        "$FP" "${SMALL[@]}" -o log.target=syslog > "$d/stdout" 2> "$d/stderr" || return 1
    sleep 0.3
    kill "$sp" 2>/dev/null
    # <29> = facility daemon (3) * 8 + notice (5); ident flowpulse with the pid. One datagram
    # per message, stored back to back (no newline).
    grep -q '<29>[^<]* flowpulse\[[0-9]*\]: main: packets received 1020 ' "$d/received" &&
        grep -q '<28>[^<]* flowpulse\[[0-9]*\]: main: no collector configured' "$d/received" &&
        ! grep -q '^flowpulse: ' "$d/stderr" || { cat "$d/received" "$d/stderr" >&2; return 1; }
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v socat >/dev/null; then
    syslog_test
    case $? in
    0) fp_pass "log.target syslog: facility daemon, levels as priorities, ident flowpulse[pid]" ;;
    2) fp_skip "syslog: cannot overlay /dev in a mount namespace ($(cat "$FP_TMP/syslog/mount.err"))" ;;
    *) fp_fail "log.target syslog"; FAILS=$((FAILS + 1)) ;;
    esac
else
    fp_skip "syslog: needs root, unshare and socat"
fi

[ $FAILS = 0 ]

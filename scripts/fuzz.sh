#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Build every tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan against the project's src/
# objects (into build-fuzz/) and run each for a bounded time. Exit non-zero on a crash.
#   FUZZ_SECONDS  time per target (default 30)      FUZZ_JOBS  parallel workers (default 1)
#   FUZZ_TARGETS  space-separated names to run (default: all)   CC  clang by default
# A seed corpus is made from ../shared/pcaps when present (one file per packet, byte 0 =
# link type); crashes are written to build-fuzz/crash-<target>-*.
set -eu

cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
PCAPS=../shared/pcaps
PKGCONF=${PKGCONF:-pkg-config}

mkdir -p "$OUT/obj" "$OUT/corpus"
FLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -I. -Isrc -D_GNU_SOURCE -DALLOW_EXPERIMENTAL_API"
DEPS_CFLAGS=$($PKGCONF --cflags libdpdk libfixbuf libconfig openssl 2>/dev/null |
    sed 's/-I/-isystem /g' || true)

targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)}

# Seed corpus from the shared captures: one file per packet (first 400 per capture).
seed_corpus() {
    dir=$1
    [ -d "$PCAPS" ] || { echo "fuzz: $PCAPS absent, starting from an empty corpus"; return 0; }
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
    command -v python3 >/dev/null || return 0
    python3 - "$PCAPS" "$dir" <<'PY'
import os, struct, sys, hashlib
src, dst = sys.argv[1], sys.argv[2]
LINK = {1: 0, 12: 1, 101: 1, 113: 2, 276: 3, 0: 4, 108: 4}
def pcap(f):
    h = f.read(24)
    if len(h) < 24: return
    magic = struct.unpack('<I', h[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    link = struct.unpack(e + 'I', h[20:24])[0] & 0xffff
    while True:
        r = f.read(16)
        if len(r) < 16: return
        incl = struct.unpack(e + 'IIII', r)[2]
        yield link, f.read(incl)
def pcapng(f):
    links, e = [], '<'
    while True:
        h = f.read(8)
        if len(h) < 8: return
        t, l = struct.unpack(e + 'II', h)
        if t == 0x0a0d0d0a:
            bom = f.read(4); e = '<' if bom == b'\x4d\x3c\x2b\x1a' else '>'
            l = struct.unpack(e + 'I', h[4:])[0]; body = bom + f.read(l - 12)
            links = []
            continue
        body = f.read(l - 8)
        if t == 1: links.append(struct.unpack(e + 'H', body[:2])[0])
        elif t == 6:
            iface, _, _, cap = struct.unpack(e + 'IIII', body[:16])[:4]
            yield (links[iface] if iface < len(links) else 1), body[20:20 + cap]
for name in sorted(os.listdir(src)):
    p = os.path.join(src, name)
    if not (name.endswith('.pcap') or name.endswith('.pcapng')): continue
    with open(p, 'rb') as f:
        gen = pcapng(f) if f.read(4) == b'\x0a\x0d\x0d\x0a' else None
        f.seek(0)
        gen = gen or pcap(f)
        try:
            for i, (link, data) in enumerate(gen):
                if i >= 400 or link not in LINK: break
                blob = bytes([LINK[link]]) + data
                with open(os.path.join(dst, hashlib.sha1(blob).hexdigest()), 'wb') as o:
                    o.write(blob)
        except (struct.error, IndexError):
            pass
PY
    echo "fuzz: seeded $(find "$dir" -type f | wc -l) inputs from $PCAPS"
}

# Project objects: every src/<module>/*.c that compiles, in one archive, so each target links
# only the members it uses (a module that does not build right now is skipped with a warning).
DEPS_LIBS=$($PKGCONF --libs libdpdk libfixbuf libconfig openssl 2>/dev/null || true)
lib="$OUT/libflowpulse-fuzz.a"
rm -f "$lib"
objs=""
for c in src/*/*.c; do
    [ -e "$c" ] || continue
    o="$OUT/obj/$(echo "$c" | tr / _).o"
    # shellcheck disable=SC2086
    if $CC $FLAGS $DEPS_CFLAGS -c "$c" -o "$o" 2>"$o.err"; then
        objs="$objs $o"
    else
        echo "fuzz: warning: $c does not compile, left out (see $o.err)"
    fi
done
# shellcheck disable=SC2086
ar rcs "$lib" $objs

# -jobs makes libFuzzer write fuzz-N.log into the cwd: only use it when asked, and keep logs here.
jobs=""
[ "$FUZZ_JOBS" -gt 1 ] && jobs="-fork=$FUZZ_JOBS"

status=0
for t in $targets; do
    src="tests/fuzz/$t.c"
    bin="$OUT/$t"
    echo "fuzz: building $bin"
    # shellcheck disable=SC2086
    $CC $FLAGS -fsanitize=fuzzer $DEPS_CFLAGS "$src" "$lib" -o "$bin" $DEPS_LIBS -lpthread -lm
    corpus="$OUT/corpus/$t"
    mkdir -p "$corpus"
    [ "$t" = fuzz_decode ] && seed_corpus "$corpus"
    echo "fuzz: running $t for ${FUZZ_SECONDS}s"
    export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
    export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$FUZZ_SECONDS" $jobs \
        -artifact_prefix="$OUT/crash-$t-" -print_final_stats=1 "$corpus" \
        >"$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FAILED, see $OUT/$t.log and $OUT/crash-$t-*"
        tail -30 "$OUT/$t.log"
        status=1
    else
        grep -E 'stat::number_of_executed_units|stat::new_units_added' "$OUT/$t.log" |
            sed "s/^/fuzz: $t /" || true
    fi
done
exit $status

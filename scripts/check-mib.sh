#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Lint conf/FLOWPULSE-MIB.txt (or the MIB files given) with smilint (Debian smitools).
# Fails on any message at SMILINT_LEVEL (default 4: errors and warnings that matter; level 5
# adds only "implicit node definition" for { enterprises 32473 1 }). smilint itself always
# exits 0, so its output decides. The imports come from MIBDIRS (default ../shared/docs/mibs).
# Exit: 0 clean, 1 smilint reported something, 2 setup problem; prints SKIP and exits 0 when
# smilint is not installed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
level=${SMILINT_LEVEL:-4}
mibdirs=${MIBDIRS:-$root/../shared/docs/mibs}
if ! command -v smilint >/dev/null 2>&1; then
    echo "SKIP check-mib: smilint not installed (apt-get install smitools)"
    exit 0
fi
if [ ! -f "$mibdirs/SNMPv2-SMI" ] && [ ! -f "${mibdirs%%:*}/SNMPv2-SMI" ]; then
    echo "SKIP check-mib: the imported MIBs are not in $mibdirs (../shared absent? set MIBDIRS)"
    exit 0
fi
[ $# -gt 0 ] || set -- "$root/conf/FLOWPULSE-MIB.txt"
rc=0
for mib in "$@"; do
    if [ ! -f "$mib" ]; then
        echo "check-mib: $mib: no such file" >&2
        rc=2
        continue
    fi
    out=$(SMIPATH="$root/conf:$mibdirs" smilint -m -l "$level" "$mib" 2>&1)
    if [ -n "$out" ]; then
        echo "$out"
        echo "FAIL check-mib: $mib (smilint -l $level)"
        rc=1
    else
        echo "PASS check-mib: $mib (smilint -l $level)"
    fi
done
exit $rc

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# `make eval`: classification accuracy of FlowPulse over the shared capture corpus against
# nDPI's reference output (see scripts/eval.py). Usage: scripts/eval.sh [BUILD_DIR] [eval.py
# options]. EVAL_STRICT=1 makes it exit non-zero below target (90 % flows, 95 % bytes).
# Skips (exit 0, with a message) when ../shared/pcaps is absent.
set -eu
BUILD=${1:-build}
[ $# -gt 0 ] && shift
PCAPS=${FP_PCAPS:-../shared/pcaps}
TAXONOMY=${FP_TAXONOMY:-../shared/taxonomy/app-classes.tsv}
if [ ! -d "$PCAPS/reference" ] || [ ! -f "$TAXONOMY" ]; then
    echo "eval: SKIP: $PCAPS/reference or $TAXONOMY not found"
    exit 0
fi
command -v ipfixDump >/dev/null || { echo "eval: ipfixDump (libfixbuf-tools) is required" >&2; exit 2; }
strict=""
[ "${EVAL_STRICT:-0}" = 1 ] && strict="--strict"
exec python3 scripts/eval.py --flowpulse "$BUILD/flowpulse" --pcaps "$PCAPS" \
    --taxonomy "$TAXONOMY" $strict "$@"

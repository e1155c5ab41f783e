#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run every tests/integration/test_*.sh (or those named on the command line) and end with
#   integration: N passed, M failed, K skipped
# Environment: BUILD (build dir, default build), FP_JOBS, FP_CAPTURE_LIMIT, FP_KEEP (see
# tests/integration/README.md). Exit status 1 when any test failed.
here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
cache=$(mktemp -d "${TMPDIR:-/tmp}/fp-truth.XXXXXX")
trap 'rm -rf "$cache"' EXIT
export FP_TRUTH_CACHE=$cache

if [ $# -gt 0 ]; then
    tests=()
    for t in "$@"; do
        case $t in
        */*) tests+=("$t") ;;
        test_*) tests+=("$here/${t%.sh}.sh") ;;
        *) tests+=("$here/test_${t%.sh}.sh") ;;
        esac
    done
else
    tests=("$here"/test_*.sh)
fi

passed=0 failed=0 skipped=0
start=$SECONDS
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    t0=$SECONDS
    out=$(bash "$t" 2> >(sed "s/^/  /" >&2))
    rc=$?
    [ -n "$out" ] && echo "$out"
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        grep -q "^FAIL" <<< "$out" || echo "FAIL ${name#test_}: exit status $rc"
    elif grep -q "^SKIP" <<< "$out"; then
        skipped=$((skipped + 1))
    elif grep -q "^PASS" <<< "$out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL ${name#test_}: no result line"
    fi
    echo "  (${name#test_}: $((SECONDS - t0)) s)"
done
echo "  (total $((SECONDS - start)) s)"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

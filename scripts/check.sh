#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# make check: unit tests, the same under ASan/UBSan, short fuzz runs of every parser, and the
# integration tests against real collectors. Prints one summary line at the end.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
failed=()
step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then pass=$((pass + 1)); echo "=== $name: ok ($((SECONDS - t0)) s)"
  else fail=$((fail + 1)); failed+=("$name"); echo "=== $name: FAILED ($((SECONDS - t0)) s)"; fi
}

step "unit tests" "$BUILD/test_unit"
if [ "${FP_CHECK_ASAN:-1}" = 1 ]; then
  step "unit tests under ASan+UBSan" make --no-print-directory asan
else
  skip=$((skip + 1)); echo "=== ASan: skipped (FP_CHECK_ASAN=0)"
fi
if [ "${FP_CHECK_FUZZ:-1}" = 1 ] && [ -x scripts/fuzz.sh ] && command -v clang >/dev/null; then
  step "fuzz (short)" env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh
else
  skip=$((skip + 1)); echo "=== fuzz: skipped"
fi
if [ -x scripts/check-mib.sh ]; then
  step "MIB lint (smilint)" scripts/check-mib.sh
fi
# Classification accuracy against the reference captures: a regression below the targets
# (90 % of flows, 95 % of bytes) fails the check; skipped when ../shared is absent.
step "classification accuracy (make eval)" env EVAL_STRICT=1 scripts/eval.sh "$BUILD"
if [ -x tests/integration/run-all.sh ]; then
  step "integration tests" env BUILD="$BUILD" tests/integration/run-all.sh
else
  skip=$((skip + 1)); echo "=== integration: skipped (tests/integration/run-all.sh missing)"
fi
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

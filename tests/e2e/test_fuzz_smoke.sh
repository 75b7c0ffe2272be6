#!/usr/bin/env bash
# The fuzzing command works and finds nothing in a short run: tools/fuzz.sh (libFuzzer + ASan +
# UBSan over open/probe/decode/clip planning/video transform, seeded with the bad-input corpus
# and sample_data) for 60 s into the build tree. The long run (10 minutes and more) is by hand:
# tools/fuzz.sh 600 (tests/fuzz/README.md).
set -u
B=${LSSD_BUILD_DIR:-build}
export LSSD_FUZZ_DIR="$B/fuzz-smoke"
rm -rf "$LSSD_FUZZ_DIR/artifacts"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tools/fuzz.sh 60 >"$log" 2>&1
rc=$?
tail -25 "$log"
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
check "tools/fuzz.sh 60 exits 0 (got $rc)" '[[ $rc == 0 ]]'
check "libFuzzer ran inputs" 'grep -q "stat::number_of_executed_units: [1-9]" "$LSSD_FUZZ_DIR/fuzz.log"'
check "no findings in $LSSD_FUZZ_DIR/artifacts" '[[ -z "$(ls -A "$LSSD_FUZZ_DIR/artifacts" 2>/dev/null)" ]]'
exit $fail

#!/usr/bin/env bash
# A longer, still bounded, fuzz session than `npm test` runs: the property/fuzz suites
# (test/unit/fuzz-*.test.ts) with FUZZ_RUNS times as many runs each.
#   scripts/fuzz.sh             # FUZZ_RUNS=50 (a few minutes on a 2-core machine)
#   FUZZ_RUNS=500 scripts/fuzz.sh
#   FUZZ_SEED=1234 scripts/fuzz.sh   # replay one seed that fast-check reported
# A failure prints fast-check's counterexample, seed and path. fast-check's generators know the
# header layouts, which random bytes would rarely hit; the coverage-guided complement is
# scripts/fuzz-coverage.sh (npm run fuzz:coverage).
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_RUNS="${FUZZ_RUNS:-50}"
npx --no-install tsc -p .
# Bounded in time as well as in runs: 30 minutes at most, however large FUZZ_RUNS is.
exec timeout 1800 node --test --test-timeout=1700000 dist/test/unit/fuzz-*.test.js

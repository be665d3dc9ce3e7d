#!/usr/bin/env bash
# Coverage-guided fuzzing with Jazzer.js (libFuzzer driven by JavaScript edge coverage), not
# part of npm test. Every wire parser and the stack's input path (test/fuzz-coverage/*.fuzz.ts),
# each for FUZZ_SECONDS (default 60) in turn:
#   scripts/fuzz-coverage.sh                      # every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz-coverage.sh fuzzTcpInput
# Corpora are kept between runs in the cache; a crashing input is written to
# fuzz-findings/<target>-crash-<sha1> and the script exits non-zero (add it to
# test/unit/fuzz-regressions.test.ts once fixed).
#
# Why Jazzer.js 2.1.0, built here, and not 4.0.0: 4.0.0's npm package holds only a prebuilt
# addon that needs glibc 2.38 and GLIBCXX_3.4.32 (this Debian 12 has 2.36 and 3.4.30), and no
# sources to rebuild it. 2.1.0 ships its addon's sources; their build downloads Jazzer's patched
# compiler-rt from GitHub, which is not reachable, so scripts/jazzer/ builds them against
# Debian's libFuzzer (libclang-rt-14-dev) with a three-symbol shim. 2.1.0 instruments CommonJS
# only, so the targets are compiled to CommonJS for it (scripts/jazzer/tsconfig.json).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${PSTACK_JAZZER_CACHE:-$HOME/.cache/pstack-jazzer}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
JAZZER_VERSION=2.1.0
LIBFUZZER=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a
ALL_TARGETS="wire:fuzzEthernet wire:fuzzArp wire:fuzzIpv4 wire:fuzzIpv4Options wire:fuzzIcmp wire:fuzzUdp wire:fuzzTcp wire:fuzzTcpOptions wire:fuzzDissect stack:fuzzStackInput stack:fuzzTcpInput"

if [ ! -f "$CACHE/ready-$JAZZER_VERSION" ]; then
  if [ ! -f "$LIBFUZZER" ]; then
    if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y libclang-rt-14-dev >/dev/null
    else echo "fuzz-coverage: needs $LIBFUZZER: apt-get install libclang-rt-14-dev" >&2; exit 2; fi
  fi
  echo "fuzz-coverage: installing Jazzer.js $JAZZER_VERSION into $CACHE (once)"
  mkdir -p "$CACHE"
  [ -f "$CACHE/package.json" ] || echo '{"name":"pstack-jazzer","private":true}' > "$CACHE/package.json"
  # --ignore-scripts: the fuzzer's own install step would try to download prebuilt binaries.
  (cd "$CACHE" && npm install --no-audit --no-fund --ignore-scripts "@jazzer.js/core@$JAZZER_VERSION" >/dev/null)
  F="$CACHE/node_modules/@jazzer.js/fuzzer"
  cp scripts/jazzer/CMakeLists.txt "$F/CMakeLists.txt"
  cp -r scripts/jazzer/include "$F/"
  cp scripts/jazzer/debian-libfuzzer-shim.cpp "$F/shared/"
  rm -rf "$F/build"
  cmake -S "$F" -B "$F/build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_JS_INC=/usr/include/node;$CACHE/node_modules/node-addon-api" -DLIBFUZZER_NO_MAIN="$LIBFUZZER" >/dev/null
  cmake --build "$F/build" -j2 >/dev/null
  touch "$CACHE/ready-$JAZZER_VERSION"
fi

rm -rf "$CACHE/cjs"
npx --no-install tsc -p scripts/jazzer/tsconfig.json --outDir "$CACHE/cjs"
echo '{"type":"commonjs"}' > "$CACHE/cjs/package.json"

targets="${*:-$ALL_TARGETS}"
mkdir -p fuzz-findings
failed=""
for spec in $targets; do
  case "$spec" in *:*) file="${spec%%:*}"; fn="${spec#*:}";; fuzzStack*|fuzzTcpInput) file=stack; fn=$spec;; *) file=wire; fn=$spec;; esac
  corpus="$CACHE/corpus/$fn"
  mkdir -p "$corpus"
  echo "fuzz-coverage: $fn for ${SECONDS_EACH} s (corpus $corpus)"
  # Jazzer runs the target through the event loop (not --sync), so the stack's microtasks run
  # between inputs as they do in the server. Bounded: libFuzzer's own limit, and a hard one.
  if ! (cd "$CACHE/cjs" && timeout $((SECONDS_EACH + 120)) "$CACHE/node_modules/.bin/jazzer" "test/fuzz-coverage/$file.fuzz.js" "$corpus" \
        -f "$fn" -i cjs/src/ --disable_bug_detectors '.*' -- \
        -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=3072 -artifact_prefix="$ROOT/fuzz-findings/$fn-" -print_final_stats=1 \
        > "$CACHE/$fn.log" 2>&1); then
    failed="$failed $fn"
    tail -40 "$CACHE/$fn.log"
  fi
  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|Done [0-9]+ runs" "$CACHE/$fn.log" | tail -2 | sed 's/^/    /'
done
if [ -n "$failed" ]; then
  echo "fuzz-coverage: findings in:$failed (inputs in fuzz-findings/)"
  exit 1
fi
echo "fuzz-coverage: no findings"

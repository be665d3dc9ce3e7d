#!/usr/bin/env bash
# The project's test command (npm test): installs the Linux tools the end-to-end tests drive,
# builds, then runs the unit tests and the end-to-end tests (namespaces + real tools).
# Long suites (soak, fuzzing, full benchmark) are separate scripts, not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The addon built from source in build/Release, which the e2e tests load: npm ci's install
# script (node-gyp-build) skips it when a prebuild (prebuilds/, left by npm pack) loads, and
# it goes stale when native/tap.c or binding.gyp changes. npm run puts npm's node-gyp on PATH.
addon=build/Release/pstack_tap.node
[ "$addon" -nt native/tap.c ] && [ "$addon" -nt binding.gyp ] || npm run build:addon
npx --no-install tsc -p .
# Unit and end-to-end files run in one node --test invocation so its closing summary counts all.
# Each e2e file creates its own uniquely named namespaces, so files may run side by side.
exec node --test --test-timeout=300000 dist/test/unit/ dist/test/e2e/

#!/usr/bin/env bash
# The project's test command (npm test): installs the Linux tools the end-to-end tests drive,
# builds, then runs the unit tests and the end-to-end tests (namespaces + real tools).
# Long suites (soak, fuzzing, full benchmark) are separate scripts, not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The addon, built from source (npm ci's install script, node-gyp-build, builds it only when
# none loads); rebuilt here too when native/tap.c or binding.gyp is newer than the build.
addon=build/Release/pstack_tap.node
[ "$addon" -nt native/tap.c ] && [ "$addon" -nt binding.gyp ] || npx --no-install node-gyp rebuild
npx --no-install tsc -p .
# Unit and end-to-end files run in one node --test invocation so its closing summary counts all.
# Each e2e file creates its own uniquely named namespaces, so files may run side by side.
exec node --test --test-timeout=300000 dist/test/unit/ dist/test/e2e/

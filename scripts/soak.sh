#!/usr/bin/env bash
# Soak test (not part of npm test): pstack server under mixed, lossy traffic from the kernel's
# side for 10 minutes by default, memory sampled; see test/soak/soak.ts for what passes.
#   scripts/soak.sh                 # 600 s
#   SOAK_SECONDS=120 scripts/soak.sh
#   scripts/soak.sh --seconds 120 --loss 5
# Needs root and /dev/net/tun (it creates its own network namespace and deletes it afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/Release/pstack_tap.node ] || npx --no-install node-gyp rebuild
npx --no-install tsc -p .
exec node dist/test/soak/soak.js "$@"

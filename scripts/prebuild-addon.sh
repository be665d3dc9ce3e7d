#!/usr/bin/env bash
# Builds the TAP addon's prebuilt binary for this platform into prebuilds/<platform>-<arch>/
# (e.g. prebuilds/linux-x64/pstack.glibc.node) with prebuildify. npm runs it before packing
# (the prepack script), so the tarball `npm pack` or `npm publish` makes carries the binary
# and `npm install pstack` needs no C compiler: the install script (node-gyp-build) finds it
# and builds from source only when no prebuild matches (another platform, musl, ...).
#
# The addon uses Node-API only (NAPI_VERSION in binding.gyp), so one binary serves every
# Node >= 20. It is built against the local Node headers (npm's nodedir, else the running
# node's own include/node when present), so nothing is downloaded, and in a temporary copy
# of binding.gyp + native/, so a checkout's build/ (which the tests load) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm puts its own node-gyp on PATH for scripts (a wrapper that needs npm_config_node_gyp):
# run through npm when started by hand.
if [ -z "${npm_config_node_gyp:-}" ] && ! command -v node-gyp >/dev/null; then
  if [ -n "${PSTACK_PREBUILD_REEXEC:-}" ]; then echo "prebuild-addon.sh: no node-gyp found" >&2; exit 1; fi
  PSTACK_PREBUILD_REEXEC=1 exec npm exec --no -- bash scripts/prebuild-addon.sh
fi
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix=$(node -p 'path.dirname(path.dirname(process.execPath))')
  if [ -f "$prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$prefix"; fi
fi

node_version=$(node -p process.versions.node)
tuple=$(node -p 'process.platform + "-" + process.arch')
work=$(mktemp -d "${TMPDIR:-/tmp}/pstack-prebuild.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir "$work/src" "$work/src/native"
cp binding.gyp "$work/src/"
cp native/*.c "$work/src/native/"
if compgen -G 'native/*.h' >/dev/null; then cp native/*.h "$work/src/native/"; fi

# --target: the running node (prebuildify otherwise names the newest Node it knows, for which
# node-gyp would want headers); with Node-API the binary does not depend on it.
# --tag-libc: the name says glibc, so node-gyp-build does not load it on musl.
node_modules/.bin/prebuildify --napi --strip --tag-libc --name pstack \
  --target="$node_version" --cache "$work/cache" --out "$work/out" "$work/src"

mkdir -p prebuilds
rm -rf "prebuilds/$tuple"
mv "$work/out/prebuilds/$tuple" "prebuilds/$tuple"
ls -l "prebuilds/$tuple"

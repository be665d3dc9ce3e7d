#!/usr/bin/env bash
# Peak memory of `pstack draw` on a large capture: writes a ~1 GiB pcap of one TCP transfer
# (bench/draw-bigfile.mjs), draws its ladder and its time-sequence graph, and prints each
# command's wall time and peak RSS (GNU time's "Maximum resident set size").
# Usage: bash bench/draw-bigfile.sh [MB] (default 1024). Needs `npx tsc -p .` first.
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-1024}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
node bench/draw-bigfile.mjs "$dir/big.pcap" "$mb"
for kind in ladder timeseq; do
  /usr/bin/time -f "$kind: %e s, peak RSS %M KiB" node dist/src/cli/main.js draw "$kind" "$dir/big.pcap" -o "$dir/$kind.svg"
  ls -l "$dir/$kind.svg" | awk -v k="$kind" '{print k ": SVG " $5 " bytes"}'
done
grep -o '[0-9]* data segments[^<]*' "$dir/timeseq.svg"

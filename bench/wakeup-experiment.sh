#!/usr/bin/env bash
# Paced ping RTT (median of 200 at 10 ms) against bench/wakeup-experiment.c in each of its
# modes, next to the kernel over veth in the same run. Needs root and cc. Uses its own
# namespaces (deleted on exit) and only 192.0.2.0/24 and 198.51.100.0/24.
#   bash bench/wakeup-experiment.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=$(mktemp -d)/wakeup-experiment
cc -O2 -pthread -o "$bin" bench/wakeup-experiment.c
ns=pstk-wk-$$
ka=pstk-wka-$$
kb=pstk-wkb-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$ka" 2>/dev/null || true
  ip netns del "$kb" 2>/dev/null || true
  rm -rf "$(dirname "$bin")"
}
trap cleanup EXIT
ip netns add "$ns"; ip netns add "$ka"; ip netns add "$kb"
ip -n "$ka" link add vwk0 type veth peer name vwk1 netns "$kb"
ip -n "$ka" addr add 198.51.100.1/24 dev vwk0; ip -n "$ka" link set vwk0 up
ip -n "$kb" addr add 198.51.100.2/24 dev vwk1; ip -n "$kb" link set vwk1 up
median() { grep -o 'time=[0-9.]*' | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
paced() { timeout 30 ip netns exec "$1" ping -c 200 -i 0.01 -W 1 "$2" | median; }
ip netns exec "$ka" ping -c 2 -i 0.2 198.51.100.2 >/dev/null
for r in $(seq "$rounds"); do
  line="round $r: kernel veth $(paced "$ka" 198.51.100.2) ms"
  for mode in epoll thread spin; do
    ip netns exec "$ns" "$bin" tapwk0 "$mode" 8 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do ip -n "$ns" link show tapwk0 >/dev/null 2>&1 && break; sleep 0.05; done
    ip -n "$ns" addr add 192.0.2.1/24 dev tapwk0
    ip -n "$ns" link set tapwk0 up
    ip -n "$ns" neigh replace 192.0.2.2 lladdr 00:00:5e:00:53:01 dev tapwk0 nud permanent
    timeout 10 ip netns exec "$ns" ping -f -q -c 20000 -w 2 192.0.2.2 >/dev/null || true
    line="$line, $mode $(paced "$ns" 192.0.2.2) ms"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ip -n "$ns" link del tapwk0 2>/dev/null || true
  done
  echo "$line"
done

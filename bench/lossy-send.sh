#!/usr/bin/env bash
# TCP one way under random loss: pstack (bench/peer.js, TAP with and without offloads) and the
# Linux kernel (veth, offloads off, tcp_bench.py's server) send MB megabytes to a Linux client
# through LOSS per mille of IP packets dropped each way (a tc filter on the TAP and on the veth:
# this kernel has no sch_netem). Prints MB/s per run and the medians. Needs root; builds
# nothing (run `npx tsc -p .` first). Own namespaces (deleted on exit), only 192.0.2.0/24 and
# 198.51.100.0/24; every transfer bounded by `timeout`.
#   bash bench/lossy-send.sh [RUNS]     env: LOSS (per mille, default 20), MB (default 50),
#                                       KERNEL_CC (default cubic, as pstack; bbr is this VM's default),
#                                       DEADLINE (seconds per transfer, default 90: a slower one
#                                       is cut there and counts as MB / DEADLINE, marked "<")
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
loss=${LOSS:-20}
mb=${MB:-50}
cc=${KERNEL_CC:-cubic}
deadline=${DEADLINE:-90}
py=$(command -v python3)
ns_p=pstk-lossp-$$; ns_o=pstk-losso-$$; ka=pstk-lossa-$$; kb=pstk-lossb-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for n in "$ns_p" "$ns_o" "$ka" "$kb"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
for n in "$ns_p" "$ns_o" "$ka" "$kb"; do ip netns add "$n"; done
ip -n "$ka" link add vloss0 type veth peer name vloss1 netns "$kb"
ip -n "$ka" addr add 198.51.100.1/24 dev vloss0; ip -n "$ka" link set vloss0 up
ip -n "$kb" addr add 198.51.100.2/24 dev vloss1; ip -n "$kb" link set vloss1 up
ip netns exec "$ka" ethtool -K vloss0 tso off gso off gro off >/dev/null
ip netns exec "$kb" ethtool -K vloss1 tso off gso off gro off >/dev/null
log=$(mktemp -d)
ip netns exec "$kb" "$py" bench/tcp_bench.py server 198.51.100.2 --cc "$cc" 2>"$log/k" & pids+=($!)
ip netns exec "$ns_p" node dist/bench/peer.js --log-level warn 2>"$log/p" & pids+=($!)
ip netns exec "$ns_o" node dist/bench/peer.js --log-level warn --offload off 2>"$log/o" & pids+=($!)
for _ in $(seq 100); do
  grep -q ready "$log/k" && grep -q ready "$log/p" && grep -q ready "$log/o" && break
  sleep 0.1
done
grep -q ready "$log/p" && grep -q ready "$log/o" && grep -q ready "$log/k" || { echo "a server did not start" >&2; cat "$log"/* >&2; exit 1; }
drop() { # namespace device: drop LOSS per mille of IP packets leaving and entering the device.
  # A tc filter picks packets at random (classic BPF `ld rand`) and redirects them into a veth
  # leading nowhere, so the sender sees a packet sent; an nftables egress drop would be a local
  # transmit error, and the kernel's TCP would send the segment again at once.
  local thr=$(( loss * 4294967296 / 1000 ))
  ip -n "$1" link add losssink0 type veth peer name losssink1
  ip -n "$1" link set losssink1 up; ip -n "$1" link set losssink0 up
  ip netns exec "$1" tc qdisc add dev "$2" clsact
  for hook in egress ingress; do
    ip netns exec "$1" tc filter add dev "$2" "$hook" protocol ip bpf bytecode \
      "4,32 0 0 4294963256,53 0 1 $thr,6 0 0 0,6 0 0 4294967295" action mirred egress redirect dev losssink0
  done
}
dropped() { # namespace device: packets dropped leaving and entering it so far
  for hook in egress ingress; do
    ip netns exec "$1" tc -s filter show dev "$2" "$hook" | awk '/Sent .* pkt/ {print $4; exit}'
  done | paste -sd/ -
}
drop "$ns_p" tap0; drop "$ns_o" tap0; drop "$ka" vloss0
rate() { # namespace address: MB/s of one transfer from the server to the client
  # A transfer cut at the deadline counts as MB / DEADLINE (an upper bound), marked "<".
  local out
  out=$(ip netns exec "$1" timeout $((deadline + 10)) "$py" bench/tcp_bench.py --deadline "$deadline" client "$2" source $((mb * 1000000)) 2>/dev/null || true)
  if [ -n "$out" ]; then
    echo "$out" | "$py" -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(round(d["count"]/1e6/d["seconds"], 2))'
  else
    "$py" -c "print('<' + str(round($mb / $deadline, 2)))"
  fi
}
median() { tr ' ' '\n' | tr -d '<' | sort -n | awk 'NF {a[n++]=$1} END {print (n % 2) ? a[(n-1)/2] : (a[n/2-1]+a[n/2])/2}'; }
echo "sending ${mb} MB to a Linux client, ${loss}/1000 of packets dropped each way; kernel with ${cc}"
all_p=""; all_o=""; all_k=""
for r in $(seq "$runs"); do
  p=$(rate "$ns_p" 192.0.2.2); o=$(rate "$ns_o" 192.0.2.2); k=$(rate "$ka" 198.51.100.2)
  echo "run $r: pstack $p MB/s, pstack --offload off $o, kernel $k"
  all_p="$all_p $p"; all_o="$all_o $o"; all_k="$all_k $k"
done
echo "dropped out/in: pstack $(dropped "$ns_p" tap0), pstack --offload off $(dropped "$ns_o" tap0), kernel $(dropped "$ka" vloss0)"
echo "median: pstack $(echo $all_p | median), pstack --offload off $(echo $all_o | median), kernel $(echo $all_k | median) MB/s"

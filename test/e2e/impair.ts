// Random packet loss on a link, both ways, that neither end can see locally.
//
// nftables' netdev egress hook is no use for loss: a packet it drops is reported to the
// sender as a local transmit failure (NET_XMIT_DROP), so the kernel's TCP keeps the segment
// and sends it again at once; only its pure ACKs are really lost. (This kernel has no
// sch_netem either.) Instead a tc classic-BPF filter on the device's clsact hooks picks
// packets at random (the `rand` ancillary load) and a mirred action redirects them into a
// veth pair that leads nowhere: to the sender the packet was sent, and the mirred action's
// statistics count every one. The same filter on the ingress hook drops what arrives.
import type { Netns } from './harness.js';

/** The blackhole veth pair (created once per namespace). */
const SINK = 'losssink0';
const SINK_PEER = 'losssink1';

/** Classic BPF: match (return -1) when a random 32-bit number is below `threshold`. */
function randomBelow(threshold: number): string {
  // ld rand (SKF_AD_OFF + SKF_AD_RANDOM); jge #threshold, no match, match
  return `4,32 0 0 4294963256,53 0 1 ${threshold},6 0 0 0,6 0 0 4294967295`;
}

/**
 * Drop `perMille` / 1000 of the IP packets leaving `dev` and of those arriving on it, at
 * random, replacing any loss set on it before (and zeroing its counters). 0 removes it.
 */
export async function setRandomLoss(ns: Netns, dev: string, perMille: number): Promise<void> {
  if (!Number.isInteger(perMille) || perMille < 0 || perMille > 1000) throw new Error(`loss per mille out of range: ${perMille}`);
  await ns.exec('tc', ['qdisc', 'del', 'dev', dev, 'clsact']);
  if (perMille === 0) return;
  if ((await ns.exec('ip', ['link', 'show', SINK])).code !== 0) {
    await ns.must('ip', ['link', 'add', SINK, 'type', 'veth', 'peer', 'name', SINK_PEER]);
    // Both ends up: a redirect to a device without carrier is a visible drop again.
    await ns.must('ip', ['link', 'set', SINK_PEER, 'up']);
    await ns.must('ip', ['link', 'set', SINK, 'up']);
  }
  await ns.must('tc', ['qdisc', 'add', 'dev', dev, 'clsact']);
  const threshold = Math.min(Math.round((perMille / 1000) * 2 ** 32), 2 ** 32 - 1);
  for (const hook of ['egress', 'ingress']) {
    await ns.must('tc', ['filter', 'add', 'dev', dev, hook, 'protocol', 'ip', 'bpf', 'bytecode', randomBelow(threshold),
      'action', 'mirred', 'egress', 'redirect', 'dev', SINK]);
  }
}

/** Packets dropped on `dev` since setRandomLoss: leaving it (egress) and arriving (ingress). */
export async function lossCounters(ns: Netns, dev: string): Promise<{ egress: number; ingress: number }> {
  const count = async (hook: string): Promise<number> => {
    const out = (await ns.must('tc', ['-s', 'filter', 'show', 'dev', dev, hook])).stdout;
    const m = /Sent \d+ bytes (\d+) pkt/.exec(out);
    return m === null ? 0 : Number(m[1]);
  };
  return { egress: await count('egress'), ingress: await count('ingress') };
}

/**
 * The kernel's count of TCP segments retransmitted in `ns` (Tcp RetransSegs of
 * /proc/net/snmp): a sender that lost nothing has nothing to retransmit.
 */
export async function kernelRetransSegs(ns: Netns): Promise<number> {
  const lines = (await ns.must('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('RetransSegs')]);
}

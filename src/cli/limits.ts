/**
 * Every bound the stack keeps on memory and work, by one name each (`pstack server --limit
 * NAME=VALUE`), with its default, what it bounds, and the counters that go up when it is hit.
 * The names map onto StackOptions (neighbor, reassembly, icmp) and TcpConfig; nothing here is
 * a second copy of a default: each is read from the module that owns it.
 */

import { defaultNeighborConfig, type NeighborConfig } from '../stack/neighbors.js';
import { defaultReassemblyConfig, type ReassemblyConfig } from '../stack/fragments.js';
import { defaultIcmpConfig, type IcmpConfig } from '../stack/icmp.js';
import { defaultTcpConfig, type TcpConfig } from '../transport/tcp/tcb.js';
import { defaultMemoryConfig, type MemoryConfig } from '../stack/memory-budget.js';

/** Limits as the Stack and Tcp constructors take them. */
export interface LimitSettings {
  neighbor: Partial<NeighborConfig>;
  reassembly: Partial<ReassemblyConfig>;
  icmp: Partial<IcmpConfig>;
  tcp: Partial<TcpConfig>;
  memory: Partial<MemoryConfig>;
}

type Group = keyof LimitSettings;

export interface LimitSpec {
  /** The name on the command line: group.field, e.g. tcp.maxConnections. */
  name: string;
  group: Group;
  field: string;
  min: number;
  max: number;
  meaning: string;
  /**
   * What counts the limit's hits: drop reasons ("layer: reason", as in `pstack stats`) or
   * counter names (icmpErrorsRateLimited, tcpTimeWaitOverflows, ...).
   */
  counters: readonly string[];
}

const DEFAULTS: { [G in Group]: Record<string, unknown> } = {
  neighbor: defaultNeighborConfig as unknown as Record<string, unknown>,
  reassembly: defaultReassemblyConfig as unknown as Record<string, unknown>,
  icmp: defaultIcmpConfig as unknown as Record<string, unknown>,
  tcp: defaultTcpConfig as unknown as Record<string, unknown>,
  memory: defaultMemoryConfig as unknown as Record<string, unknown>,
};

/** The prefix each group has on the command line ("arp", not "neighbor": what users call it). */
const PREFIX: Record<Group, string> = { neighbor: 'arp', reassembly: 'reassembly', icmp: 'icmp', tcp: 'tcp', memory: 'memory' };

function limit(group: Group, field: string, min: number, max: number, meaning: string, counters: readonly string[]): LimitSpec {
  return { name: `${PREFIX[group]}.${field}`, group, field, min, max, meaning, counters };
}

const MAX_INT = 2 ** 31 - 1;

export const LIMITS: readonly LimitSpec[] = [
  limit('neighbor', 'maxEntries', 1, 1 << 20, 'ARP cache entries; new dynamic ones are refused beyond it', ['arp: cache-full']),
  limit('neighbor', 'queuePerEntry', 1, 4096, 'packets held per address waiting for ARP; the oldest is dropped beyond it', ['arp: queue-full']),
  limit('reassembly', 'maxDatagrams', 1, 1 << 20, 'IPv4 datagrams being reassembled at once; the oldest gives way', ['reassembly: evicted-datagram-limit', 'reassembly: too-many-datagrams']),
  limit('reassembly', 'maxBytes', 65536, 1 << 30, 'bytes of reassembly buffers; the oldest datagram gives way', ['reassembly: evicted-memory-limit', 'reassembly: memory-limit']),
  limit('reassembly', 'maxFragmentsPerDatagram', 2, 8192, 'fragments one datagram may arrive in; beyond it the datagram is dropped', ['reassembly: too-many-fragments']),
  limit('reassembly', 'timeoutMs', 1, 600_000, 'how long an incomplete datagram is kept (ms)', ['reassembly: timeout']),
  limit('icmp', 'errorsPerSecond', 0, 1_000_000, 'ICMP errors sent per second at most (token bucket rate)', ['icmpErrorsRateLimited']),
  limit('icmp', 'errorBurst', 0, 1_000_000, 'ICMP errors that may go out back to back (token bucket size)', ['icmpErrorsRateLimited']),
  limit('icmp', 'destinationIntervalMs', 0, 600_000, 'ms per ICMP error to any one destination (Linux icmp_ratelimit; 0: no per-destination limit)', ['icmpErrorsDestinationLimited']),
  limit('icmp', 'destinationBurst', 1, 1_000_000, 'ICMP errors that may go to one destination back to back', ['icmpErrorsDestinationLimited']),
  limit('icmp', 'maxDestinations', 1, 1 << 20, 'destinations whose ICMP error rate is tracked; the longest known gives way beyond it', ['icmpDestinationsEvicted']),
  limit('tcp', 'maxConnections', 1, 1 << 24, 'TCP connection blocks (every state but LISTEN); beyond it SYNs get a RST', ['tcp: max-connections']),
  limit('tcp', 'maxSynBacklog', 1, 1 << 20, 'half-open connections per listener; beyond it SYN cookies (or drops)', ['tcpSynCookiesSent', 'tcp: syn-queue-full']),
  limit('tcp', 'maxTimeWait', 0, 1 << 24, 'connections in TIME_WAIT; beyond it they close at once', ['tcpTimeWaitOverflows']),
  limit('tcp', 'sendBufferSize', 1024, 1 << 30, 'send buffer bytes per connection (SO_SNDBUF)', ['tcpSendBufferFull']),
  limit('tcp', 'recvBufferSize', 1024, 1 << 30, 'receive buffer bytes per connection (SO_RCVBUF), the most window offered', ['tcp: beyond-window', 'tcp: zero-window-data']),
  limit('tcp', 'maxOooRanges', 1, 4096, 'separate out-of-order ranges queued per connection', ['tcp: ooo-queue-full']),
  limit('tcp', 'maxOooBytes', 1, 1 << 30, 'out-of-order bytes queued per connection', ['tcp: ooo-queue-full']),
  limit('tcp', 'maxSackRanges', 1, 4096, "SACK ranges remembered per connection's scoreboard", ['tcpSackRangesEvicted']),
  limit('tcp', 'challengeAckLimit', 0, MAX_INT, 'RFC 5961 challenge ACKs per second, all connections together (each second draws from limit/2 to limit*3/2)', ['tcp: challenge-ack-rate-limited']),
  limit('tcp', 'challengeAckIntervalMs', 0, 600_000, 'ms between two challenge ACKs on one connection (Linux tcp_invalid_ratelimit; 0: no limit)', ['tcpChallengeAcksPerConnectionLimited']),
  limit('tcp', 'sendBufferMin', 1024, 1 << 30, 'send buffer bytes per connection at the start and under memory pressure (it grows to twice cwnd)', ['tcpSendBufferMemoryLimited']),
  limit('tcp', 'recvBufferMin', 1024, 1 << 30, 'window offered under memory pressure, and receive storage guaranteed past the hard limit', ['tcp: memory-budget']),
  limit('tcp', 'maxOrphans', 0, 1 << 24, 'connections closed by their application still delivering data; beyond it they are reset', ['tcpOrphansOverLimit']),
  limit('tcp', 'orphanRetries', 1, 100, 'retransmissions or window probes an orphan gets before it is given up', ['tcpOrphansOutOfMemory']),
  limit('tcp', 'ecn', 0, 2, 'ECN (RFC 3168), as Linux net.ipv4.tcp_ecn: 0 off, 1 ask for it on connections opened and accept it, 2 accept it when asked', ['tcpEcnNegotiated']),
  limit('memory', 'lowBytes', 0, 2 ** 40, 'buffer memory below which memory pressure ends', []),
  limit('memory', 'pressureBytes', 0, 2 ** 40, 'buffer memory above which buffers stop growing and shrink toward their minimum (memory pressure)', ['memoryPressureEntered']),
  limit('memory', 'maxBytes', 65536, 2 ** 40, 'buffer memory (TCP send/receive/out-of-order, reassembly) beyond which more is refused', ['memoryRefusedCharges']),
];

export function emptyLimitSettings(): LimitSettings {
  return { neighbor: {}, reassembly: {}, icmp: {}, tcp: {}, memory: {} };
}

export function limitDefault(spec: LimitSpec): number {
  return DEFAULTS[spec.group][spec.field] as number;
}

/** Why `text` (NAME=VALUE) is not a valid limit, or null after setting it in `into`. */
export function applyLimit(text: string, into: LimitSettings): string | null {
  const eq = text.indexOf('=');
  if (eq <= 0) return `invalid --limit ${JSON.stringify(text)}: expected NAME=VALUE, like tcp.maxConnections=1000 (--limit help lists the names)`;
  const name = text.slice(0, eq);
  const valueText = text.slice(eq + 1).trim();
  const spec = LIMITS.find((l) => l.name === name);
  if (spec === undefined) return `unknown limit ${JSON.stringify(name)} (--limit help lists the names)`;
  const value = /^\d+$/.test(valueText) ? Number(valueText) : NaN;
  if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
    return `invalid value ${JSON.stringify(valueText)} for limit ${name}: expected a whole number from ${spec.min} to ${spec.max}`;
  }
  (into[spec.group] as Record<string, number>)[spec.field] = value;
  return null;
}

/** The limits in force, from the configs the stack and TCP actually hold. */
export function limitValues(configs: { [G in Group]?: object }): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of LIMITS) {
    const c = configs[l.group] as Record<string, unknown> | undefined;
    const v = c?.[l.field];
    if (typeof v === 'number') out[l.name] = v;
  }
  return out;
}

/**
 * How often each limit was hit, from a stats counters object (flat counters plus `drops` by
 * reason, as `pstack stats --json` has them).
 */
export function limitHits(counters: Record<string, unknown>): Record<string, number> {
  const drops = (counters['drops'] ?? {}) as Record<string, number>;
  const out: Record<string, number> = {};
  for (const l of LIMITS) {
    let n = 0;
    for (const c of l.counters) {
      const v = c.includes(': ') ? drops[c] : counters[c];
      if (typeof v === 'number') n += v;
    }
    out[l.name] = n;
  }
  return out;
}

/** `--limit help`: every name, its default, what it bounds and what counts its hits. */
export function formatLimitHelp(): string {
  const width = Math.max(...LIMITS.map((l) => l.name.length)) + 2;
  const defWidth = Math.max(...LIMITS.map((l) => String(limitDefault(l)).length)) + 2;
  let out = 'limits for pstack server --limit NAME=VALUE (repeatable):\n';
  out += `  ${'NAME'.padEnd(width)}${'DEFAULT'.padEnd(defWidth)}MEANING (counted in pstack stats as)\n`;
  for (const l of LIMITS) {
    out += `  ${l.name.padEnd(width)}${String(limitDefault(l)).padEnd(defWidth)}${l.meaning} (${l.counters.join(', ')})\n`;
  }
  return out;
}

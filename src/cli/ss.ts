/**
 * `pstack ss`: a running server's TCP connections with their internals, in the layout of
 * Linux's `ss -ti` (one line per connection, then an indented line of name:value pairs), so
 * the two can be read side by side: congestion window, RTT, RTO, retransmissions, SACKed and
 * lost segments, bytes in flight, both windows.
 */

import type { TcpConnectionInfo } from '../api/tcp-info.js';
import { UsageError } from './errors.js';
import { SOCKET_OPTIONS, SOCKET_OPTIONS_USAGE, ask, parse, printJson, socketChoice } from './inspect.js';

export const SS_USAGE = `usage: pstack ss [options]     TCP connections with their internals (like ss -tin)
  -t, -i, -n, -a      accepted for habit's sake (TCP connections are shown with their details)
${SOCKET_OPTIONS_USAGE}`;

function ms(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/\.?0+$/, '');
}

/** A rate the way ss prints it: 812Mbps, 1.2Gbps, 56Kbps, 90bps. */
export function bps(n: number): string {
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
  for (const [u, p] of units) if (n >= u) return `${Number((n / u).toFixed(1))}${p}bps`;
  return `${Math.round(n)}bps`;
}

function gain(g: number): string {
  return String(Number(g.toFixed(5)));
}

const SHORT_STATE: Record<string, string> = {
  ESTABLISHED: 'ESTAB', SYN_SENT: 'SYN-SENT', SYN_RECEIVED: 'SYN-RECV', FIN_WAIT_1: 'FIN-WAIT-1', FIN_WAIT_2: 'FIN-WAIT-2',
  CLOSE_WAIT: 'CLOSE-WAIT', LAST_ACK: 'LAST-ACK', TIME_WAIT: 'TIME-WAIT', CLOSING: 'CLOSING', CLOSED: 'UNCONN', LISTEN: 'LISTEN',
};

/** The indented detail line of one connection, ss -ti's words and order. */
export function formatTcpDetails(c: TcpConnectionInfo): string {
  const f: string[] = [];
  // As ss: ECN agreed, and ECT or CE codepoints seen (absent in replies from older servers).
  if (c.ecn === true) f.push('ecn');
  if (c.ecnSeen === true) f.push('ecnseen');
  f.push(c.congestion);
  if (c.sndWscale >= 0) f.push(`wscale:${c.sndWscale},${c.rcvWscale}`);
  f.push(`rto:${Math.round(c.rtoMs)}`);
  if (c.srttMs > 0) f.push(`rtt:${ms(c.srttMs)}/${ms(c.rttvarMs)}`);
  f.push(`mss:${c.mss}`, `advmss:${c.advmss}`, `cwnd:${c.cwnd}`);
  if (c.ssthresh !== null) f.push(`ssthresh:${c.ssthresh}`);
  if (c.bytesSent > 0) f.push(`bytes_sent:${c.bytesSent}`);
  if (c.bytesAcked > 0) f.push(`bytes_acked:${c.bytesAcked}`);
  if (c.bytesReceived > 0) f.push(`bytes_received:${c.bytesReceived}`);
  f.push(`segs_out:${c.segsOut}`, `segs_in:${c.segsIn}`, `lastsnd:${c.lastSendMs}`, `lastrcv:${c.lastRecvMs}`);
  if (c.unacked > 0) f.push(`unacked:${c.unacked}`);
  f.push(`bytes_in_flight:${c.bytesInFlight}`);
  if (c.retransCurrent > 0 || c.retransTotal > 0) f.push(`retrans:${c.retransCurrent}/${c.retransTotal}`);
  if (c.timeouts > 0) f.push(`timeouts:${c.timeouts}`);
  if (c.lost > 0) f.push(`lost:${c.lost}`);
  if (c.sacked > 0) f.push(`sacked:${c.sacked}`);
  if (c.dsackDups > 0) f.push(`dsack_dups:${c.dsackDups}`);
  if (c.reordSeen > 0) f.push(`reord_seen:${c.reordSeen}`);
  if (c.minRttMs !== null) f.push(`minrtt:${ms(c.minRttMs)}`);
  const b = c.bbr;
  if (b !== undefined) {
    // As ss -ti: bbr:(bw:..,mrtt:..,pacing_gain:..,cwnd_gain:..) and pacing_rate.
    f.push(`bbr:(bw:${bps(b.bwBps)},mrtt:${b.minRttMs === null ? 0 : ms(b.minRttMs)},pacing_gain:${gain(b.pacingGain)},cwnd_gain:${gain(b.cwndGain)})`);
    f.push(`pacing_rate ${bps(b.pacingRateBps)}`, `bbr_state:${b.mode}`);
  }
  f.push(`snd_wnd:${c.sndWnd}`, `rcv_wnd:${c.rcvWnd}`);
  if (c.inRecovery) f.push('recovery');
  return '\t ' + f.filter((x) => x !== '').join(' ');
}

/** ss -tin: a header, then per connection its line and its details. */
export function formatSs(connections: readonly TcpConnectionInfo[]): string {
  const rows = connections.map((c) => [SHORT_STATE[c.state] ?? c.state, String(c.recvQueue), String(c.sendQueue), `${c.localAddress}:${c.localPort}`, `${c.remoteAddress}:${c.remotePort}`]);
  const head = ['State', 'Recv-Q', 'Send-Q', 'Local Address:Port', 'Peer Address:Port'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i === 1 || i === 2 ? x.padEnd(width[i]!) : i === 3 ? x.padStart(width[i]!) : x.padEnd(width[i]!))).join(' ').trimEnd() + '\n';
  let out = line(head);
  connections.forEach((c, i) => {
    out += line(rows[i]!);
    out += formatTcpDetails(c) + '\n';
  });
  return out;
}

export async function runSs(argv: string[]): Promise<number> {
  const parsed = parse(argv, {
    ...SOCKET_OPTIONS,
    tcp: { type: 'boolean', short: 't' },
    info: { type: 'boolean', short: 'i' },
    numeric: { type: 'boolean', short: 'n' },
    all: { type: 'boolean', short: 'a' },
  });
  if (parsed.values.help) {
    process.stdout.write(SS_USAGE + '\n');
    return 0;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(parsed.positionals.join(' '))}`);
  const choice = socketChoice(parsed.values);
  const response = await ask(choice, { cmd: 'tcp-info' });
  if (choice.json) printJson(response);
  else process.stdout.write(formatSs(response['connections'] as TcpConnectionInfo[]));
  return 0;
}

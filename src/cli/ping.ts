/**
 * `pstack ping`: pstack is itself a host on a TAP device and pings from its own stack, with the
 * options, output and exit codes of iputils ping, so what a learner reads matches what `ping`
 * on Linux prints (and the statistics are computed the same way, integer microseconds and all).
 *
 *   PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.
 *   64 bytes from 192.0.2.1: icmp_seq=1 ttl=64 time=0.321 ms
 *
 *   --- 192.0.2.1 ping statistics ---
 *   1 packets transmitted, 1 received, 0% packet loss, time 0ms
 *   rtt min/avg/max/mdev = 0.321/0.321/0.321/0.000 ms
 *
 * The payload is laid out as iputils lays it out on 64-bit Linux: a struct timeval (8-byte
 * seconds, 8-byte microseconds, little-endian) in the first 16 bytes when there is room, then the
 * -p pattern or the filler byte i at offset i. The round-trip time is read back from the echoed
 * timestamp, and the rest of the echoed data is compared with what was sent.
 */

import { ipv4ToString, parseIpv4, type Ipv4Address } from '../wire/addr.js';
import { IcmpType, ICMP_HEADER_LENGTH, type IcmpPacket } from '../wire/icmp.js';
import { IPV4_MIN_HEADER, IpProtocol, type Ipv4Packet } from '../wire/ipv4.js';
import { buildRecordRouteOption } from '../wire/ipv4-options.js';
import { createLogger } from '../observe/log.js';
import type { Stack } from '../api/stack.js';
import type { IcmpListener } from '../stack/icmp.js';
import type { Timer } from '../time/clock.js';
import { FatalError } from './errors.js';
import { startHost } from './host.js';
import { PING_USAGE, RECORD_ROUTE_OPTION_BYTES, TIMESTAMP_BYTES, parsePingArgs, type PingBehaviour } from './ping-args.js';
import {
  PingStatistics, buildEchoData, describeIcmpError, describeWrongData, formatQuotedHeader, formatReplyOptions, formatStatistics,
  formatTripTime, hex2, readTimestamp, systemWallClockUs, writeTimestamp,
} from './ping-output.js';

export * from './ping-args.js';
export * from './ping-output.js';

export interface PingSessionOptions extends PingBehaviour {
  /** Echo identifier; random by default, as iputils picks one for its raw socket. */
  id?: number;
  /** Where the normal output goes (stdout). */
  write: (text: string) => void;
  /** Where warnings go (stderr). */
  warn: (text: string) => void;
  wallClockUs?: () => number;
}

/** How often the end-of-run wait looks again at a request still waiting for ARP. */
const ARP_RECHECK_MS = 100;

/**
 * One run of ping on a stack: sends the requests on the stack's timers, listens to the stack's
 * ICMP service, prints what iputils prints, and resolves with iputils' exit code.
 */
export class PingSession {
  readonly stats = new PingStatistics();
  private readonly id: number;
  private readonly data: Uint8Array;
  private readonly timing: boolean;
  private readonly options: Uint8Array | undefined;
  private readonly received = new Uint8Array(65536 / 8);
  private readonly wallClockUs: () => number;
  private readonly sendTimer: Timer;
  private readonly lingerTimer: Timer;
  private readonly deadlineTimer: Timer;
  private readonly previousRoute = { route: null as string | null };
  private readonly listener: IcmpListener;
  private startedAt = 0;
  private lastSentAt = 0;
  private nextSendAt = 0;
  private finished = false;
  /** iputils' exit status once the run is over (also what `done` resolves with), else null. */
  exitCode: number | null = null;
  private resolveDone: (code: number) => void = () => {};
  readonly done: Promise<number>;

  constructor(private readonly stack: Stack, private readonly opts: PingSessionOptions) {
    this.id = (opts.id ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.data = buildEchoData(opts.size, opts.pattern);
    this.timing = opts.size >= TIMESTAMP_BYTES;
    this.options = opts.recordRoute ? buildRecordRouteOption(9) : undefined;
    this.wallClockUs = opts.wallClockUs ?? systemWallClockUs;
    this.sendTimer = stack.timers.create(() => this.sendDue());
    this.lingerTimer = stack.timers.create(() => this.lingerExpired());
    this.deadlineTimer = stack.timers.create(() => this.finish());
    this.listener = {
      echoReply: (from, id, seq, ttl, ip, icmp) => this.onEchoReply(from, id, seq, ttl, ip, icmp),
      error: (from, type, code, original, _ip, icmp) => this.onIcmpError(from, type, code, original, icmp),
    };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** The header line(s), then the first request; resolves (see `done`) with the exit code. */
  start(): Promise<number> {
    const o = this.opts;
    if (o.pattern !== null && !o.quiet) this.opts.write(`PATTERN: 0x${Array.from(o.pattern, hex2).join('')}\n`);
    const optionBytes = this.options !== undefined ? RECORD_ROUTE_OPTION_BYTES : 0;
    o.write(`PING ${o.destinationText} (${ipv4ToString(o.destination)}) ${o.size}(${o.size + ICMP_HEADER_LENGTH + optionBytes + IPV4_MIN_HEADER}) bytes of data.\n`);
    this.stack.icmp.listeners.add(this.listener);
    this.startedAt = this.stack.clock.now();
    this.nextSendAt = this.startedAt;
    if (o.deadlineMs !== null) this.deadlineTimer.arm(o.deadlineMs);
    this.sendDue();
    return this.done;
  }

  /** Ctrl-C: print the statistics now. */
  interrupt(): void {
    this.finish();
  }

  private get allSent(): boolean {
    // With a deadline, iputils keeps sending until -c replies came back or time is up.
    return this.opts.count > 0 && this.stats.transmitted >= this.opts.count && this.opts.deadlineMs === null;
  }

  private sendDue(): void {
    if (this.finished || this.allSent) return;
    // A request due at the deadline is not sent (the deadline timer may fire just after).
    if (this.opts.deadlineMs !== null && this.stack.clock.now() - this.startedAt >= this.opts.deadlineMs) {
      this.finish();
      return;
    }
    this.sendOne();
    if (this.finished) return;
    if (this.allSent) {
      this.startLinger();
      return;
    }
    // Keep to the schedule, but after a stall send the next one an interval later, not a burst.
    const now = this.stack.clock.now();
    this.nextSendAt = Math.max(this.nextSendAt + this.opts.intervalMs, now);
    this.sendTimer.armAt(this.nextSendAt);
  }

  private sendOne(): void {
    const o = this.opts;
    const seq = (this.stats.transmitted + 1) & 0xffff;
    this.received[seq >> 3]! &= ~(1 << (seq & 7));
    // As iputils, the run's time is measured up to the moment the last request was due.
    this.lastSentAt = this.stack.clock.now();
    if (this.timing) writeTimestamp(this.data, this.wallClockUs());
    const errorsBefore = this.stats.errors;
    this.stats.transmitted++;
    const sent = this.stack.icmp.sendEcho(o.destination, this.id, seq, this.data, { ttl: o.ttl ?? undefined, options: this.options });
    if (!sent) {
      o.warn('pstack: sendmsg: Network is unreachable\n');
      return;
    }
    // Unless the stack already said so while sending (a local error is delivered at once).
    if (!this.finished && this.stats.errors === errorsBefore) this.reportFailedNeighbor(seq);
  }

  /**
   * A next hop whose ARP resolution just failed drops new packets for a few seconds without a
   * word; Linux answers each of them with Host Unreachable, and so does ping here.
   */
  private reportFailedNeighbor(seq: number): void {
    const rt = this.stack.route(this.opts.destination);
    if (rt === null || rt.iface.isLoopback) return;
    if (this.stack.neighbors.get(rt.nextHop as number)?.state !== 'failed') return;
    this.countError(ipv4ToString(rt.src as number), seq, IcmpType.DestinationUnreachable, 1, 0, null, null);
  }

  private startLinger(): void {
    // As iputils: twice the longest round trip (at least one interval) once something came
    // back, else the -W time.
    const wait = this.stats.received > 0 ? Math.max((2 * this.stats.tmax) / 1000, this.opts.intervalMs) : this.opts.lingerMs;
    this.lingerTimer.arm(wait);
  }

  private lingerExpired(): void {
    if (this.finished) return;
    // A request still queued behind ARP has not left yet; its answer (a reply, or Host
    // Unreachable when ARP gives up after its few retries) is still to come.
    if (this.awaitingArp()) {
      this.lingerTimer.arm(ARP_RECHECK_MS);
      return;
    }
    this.finish();
  }

  private awaitingArp(): boolean {
    const rt = this.stack.route(this.opts.destination);
    if (rt === null || rt.iface.isLoopback) return false;
    const entry = this.stack.neighbors.get(rt.nextHop as number);
    return entry !== undefined && entry.state === 'incomplete' && entry.queue.length > 0;
  }

  private checkDone(): void {
    const o = this.opts;
    if (o.count > 0 && this.stats.received + this.stats.errors >= o.count) this.finish();
    else if (o.deadlineMs !== null && this.stats.errors > 0) this.finish();
  }

  private onEchoReply(from: Ipv4Address, id: number, seq: number, ttl: number, ip: Ipv4Packet, icmp: IcmpPacket): void {
    if (this.finished || id !== this.id) return;
    const o = this.opts;
    const stats = this.stats;
    const length = icmp.length;
    const payload = icmp.buf.subarray(icmp.dataOffset, icmp.offset + icmp.length);
    let tripUs = 0;
    if (this.timing && payload.length >= TIMESTAMP_BYTES) {
      tripUs = this.wallClockUs() - readTimestamp(payload);
      if (tripUs < 0) {
        o.warn(`pstack: Warning: time of day goes back (${tripUs}us), taking countermeasures\n`);
        tripUs = 0;
      }
      stats.addRoundTrip(tripUs);
    }
    stats.received++;
    stats.acknowledge(seq);
    const bit = 1 << (seq & 7);
    const duplicate = (this.received[seq >> 3]! & bit) !== 0;
    if (duplicate) {
      stats.duplicates++;
      stats.received--;
    } else this.received[seq >> 3]! |= bit;
    if (!o.quiet) {
      let line = `${length} bytes from ${ipv4ToString(from)}: icmp_seq=${seq} ttl=${ttl}`;
      if (length < o.size + ICMP_HEADER_LENGTH) line += ' (truncated)\n';
      else {
        if (this.timing) line += ` time=${formatTripTime(tripUs)}`;
        if (duplicate) line += ' (DUP!)';
        line += describeWrongData(this.data, payload, this.timing ? TIMESTAMP_BYTES : 0);
        if (ip.headerLength > IPV4_MIN_HEADER) line += formatReplyOptions(ip.buf, ip.optionsOffset, ip.optionsLength, this.previousRoute);
        line += '\n';
      }
      o.write(line);
    }
    this.checkDone();
  }

  private onIcmpError(from: Ipv4Address, type: number, code: number, original: Ipv4Packet, icmp: IcmpPacket): void {
    if (this.finished) return;
    // Only errors about our own echo requests to this destination: the quoted header and the
    // 8 bytes after it hold our ICMP header with its identifier and sequence number.
    const hl = original.headerLength;
    if (original.protocol !== IpProtocol.ICMP || original.dst !== this.opts.destination) return;
    const q = original.offset + hl;
    if (original.length < hl + ICMP_HEADER_LENGTH || q + ICMP_HEADER_LENGTH > original.buf.length) return;
    const b = original.buf;
    if (b[q] !== IcmpType.EchoRequest || ((b[q + 4]! << 8) | b[q + 5]!) !== this.id) return;
    const seq = (b[q + 6]! << 8) | b[q + 7]!;
    const info = type === IcmpType.DestinationUnreachable && code === 4 ? icmp.nextHopMtu : type === IcmpType.ParameterProblem ? icmp.pointer : icmp.rest;
    const quoted = b.slice(original.offset, original.offset + Math.min(original.length, hl + ICMP_HEADER_LENGTH));
    if (type === IcmpType.Redirect || type === IcmpType.SourceQuench) {
      // Advice, not a failure: printed (as iputils, with a colon) but not counted.
      if (!this.opts.quiet) {
        this.opts.write(`From ${ipv4ToString(from)}: icmp_seq=${seq} ${describeIcmpError(type, code, info)}\n` + (this.opts.verbose ? formatQuotedHeader(quoted, icmp) : ''));
      }
      return;
    }
    this.countError(ipv4ToString(from), seq, type, code, info, quoted, icmp);
  }

  private countError(from: string, seq: number, type: number, code: number, info: number, quoted: Uint8Array | null, icmp: IcmpPacket | null): void {
    this.stats.errors++;
    this.stats.acknowledge(seq);
    if (!this.opts.quiet) {
      let text = `From ${from} icmp_seq=${seq} ${describeIcmpError(type, code, info)}\n`;
      if (this.opts.verbose && quoted !== null) text += formatQuotedHeader(quoted, icmp);
      this.opts.write(text);
    }
    this.checkDone();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sendTimer.disarm();
    this.lingerTimer.disarm();
    this.deadlineTimer.disarm();
    this.stack.icmp.listeners.delete(this.listener);
    const o = this.opts;
    const elapsed = this.stats.transmitted > 0 ? this.lastSentAt - this.startedAt : 0;
    o.write(formatStatistics(this.stats, o.destinationText, elapsed, this.timing));
    const missed = this.stats.received === 0 || (o.deadlineMs !== null && o.count > 0 && this.stats.received < o.count);
    this.exitCode = missed ? 1 : 0;
    this.resolveDone(this.exitCode);
  }
}

// ------------------------------------------------------------------------------ the command

export async function runPing(argv: string[]): Promise<number> {
  const config = parsePingArgs(argv);
  if (config === 'help') {
    process.stdout.write(PING_USAGE + '\n');
    return 0;
  }
  const logger = createLogger({ level: config.logLevel });
  let host;
  try {
    host = await startHost({ taps: [config.tap], gateway: config.gateway, mtu: config.mtu, forwarding: false, pcapPath: config.pcapPath, logger, dns: config.dns });
  } catch (err) {
    // iputils exits 2 for every failure that is not "no reply".
    if (err instanceof FatalError) throw new FatalError(err.message, 2);
    throw err;
  }
  // Keeps Node running while waiting: the stack's own timers are unref'd on purpose.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signals: Array<[NodeJS.Signals, () => void]> = [];
  try {
    const destination = config.destination ?? await resolveDestination(host.stack, config.destinationText);
    // iputils finds out before sending anything, by connecting a probe socket.
    if (host.stack.route(destination) === null) throw new FatalError('connect: Network is unreachable', 2);
    const session = new PingSession(host.stack, {
      ...config,
      destination,
      // With the capture on standard output, ping's own lines go to standard error.
      write: config.pcapPath === '-' ? (text) => process.stderr.write(text) : (text) => process.stdout.write(text),
      warn: (text) => process.stderr.write(text),
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => session.interrupt();
      signals.push([signal, handler]);
      process.on(signal, handler);
    }
    return await session.start();
  } finally {
    for (const [signal, handler] of signals) process.off(signal, handler);
    clearInterval(keepAlive);
    await host.close();
  }
}

/** DEST's IPv4 address through pstack's resolver, failing in iputils' words and exit status. */
async function resolveDestination(stack: Stack, name: string): Promise<Ipv4Address> {
  try {
    const found = await stack.resolver.lookup(name, { family: 4 });
    const address = Array.isArray(found) ? found[0]?.address : found.address;
    const parsed = address === undefined ? null : parseIpv4(address);
    if (parsed === null) throw Object.assign(new Error('no IPv4 address'), { code: 'ENOTFOUND' });
    return parsed;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'Name or service not known' : 'Temporary failure in name resolution';
    throw new FatalError(`${name}: ${why}`, 2);
  }
}

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
import { parseIpv6 } from '../wire/addr6.js';
import { createLogger } from '../observe/log.js';
import { intern6, type IpAddress, type Ipv6Addr } from '../stack/ip-address.js';
import { Icmp6EchoPath } from './ping6.js';
import type { Stack } from '../api/stack.js';
import type { IcmpListener } from '../stack/icmp.js';
import type { Timer } from '../time/clock.js';
import { FatalError } from './errors.js';
import type { EchoPath, EchoSink } from './ping-path.js';
import { startHost } from './host.js';
import { PING_USAGE, RECORD_ROUTE_OPTION_BYTES, TIMESTAMP_BYTES, parsePingArgs, type PingBehaviour } from './ping-args.js';
import {
  PingStatistics, buildEchoData, describeIcmpError, describeWrongData, formatQuotedHeader, formatReplyOptions, formatStatistics,
  formatTripTime, hex2, readTimestamp, systemWallClockUs, writeTimestamp,
} from './ping-output.js';

export * from './ping-args.js';
export * from './ping-output.js';
export * from './ping6.js';
export type { EchoPath, EchoSink } from './ping-path.js';

export interface PingSessionOptions extends PingBehaviour {
  /** Echo identifier; random by default, as iputils picks one for its raw socket. */
  id?: number;
  /** Where the normal output goes (stdout). */
  write: (text: string) => void;
  /** Where warnings go (stderr). */
  warn: (text: string) => void;
  wallClockUs?: () => number;
}

/** How often the end-of-run wait looks again at a request still waiting for ARP / ND. */
const RESOLUTION_RECHECK_MS = 100;

/**
 * One run of ping on a stack: sends the requests on the stack's timers through an EchoPath
 * (ICMP over IPv4, or ICMPv6), prints what iputils prints, and resolves with iputils' exit code.
 */
export class PingSession implements EchoSink {
  readonly stats = new PingStatistics();
  private readonly id: number;
  private readonly data: Uint8Array;
  private readonly timing: boolean;
  private readonly received = new Uint8Array(65536 / 8);
  private readonly wallClockUs: () => number;
  private readonly sendTimer: Timer;
  private readonly lingerTimer: Timer;
  private readonly deadlineTimer: Timer;
  private readonly path: EchoPath;
  private startedAt = 0;
  private lastSentAt = 0;
  private nextSendAt = 0;
  private finished = false;
  /** The end-of-run wait saw a request queued behind address resolution. */
  private resolutionPending = false;
  /** iputils' exit status once the run is over (also what `done` resolves with), else null. */
  exitCode: number | null = null;
  private resolveDone: (code: number) => void = () => {};
  readonly done: Promise<number>;

  /** `path` defaults to ICMP over IPv4 to opts.destination (which must then be IPv4). */
  constructor(private readonly stack: Stack, private readonly opts: PingSessionOptions, path?: EchoPath) {
    this.id = (opts.id ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.data = buildEchoData(opts.size, opts.pattern);
    this.timing = opts.size >= TIMESTAMP_BYTES;
    this.wallClockUs = opts.wallClockUs ?? systemWallClockUs;
    this.path = path ?? new Icmp4EchoPath(stack, opts.destination as Ipv4Address, opts.recordRoute, (opts.source ?? null) as Ipv4Address | null, opts.verbose);
    this.sendTimer = stack.timers.create(() => this.sendDue());
    this.lingerTimer = stack.timers.create(() => this.lingerExpired());
    this.deadlineTimer = stack.timers.create(() => this.finish());
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** The header line(s), then the first request; resolves (see `done`) with the exit code. */
  start(): Promise<number> {
    const o = this.opts;
    if (o.pattern !== null && !o.quiet) this.opts.write(`PATTERN: 0x${Array.from(o.pattern, hex2).join('')}\n`);
    o.write(this.path.headerLine(o.destinationText, o.size, o.interfaceText ?? null));
    this.path.open(this.id, this);
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
    const sent = this.path.send(this.id, seq, this.data, o.ttl);
    if (!sent) {
      o.warn('pstack: sendmsg: Network is unreachable\n');
      return;
    }
    // Unless the stack already said so while sending (a local error is delivered at once).
    if (!this.finished && this.stats.errors === errorsBefore) {
      const failed = this.path.failedNeighbor();
      if (failed !== null) this.error(failed.from, seq, failed.text, true, '');
    }
  }

  private startLinger(): void {
    // As iputils: twice the longest round trip (at least one interval) once something came
    // back, else the -W time.
    const wait = this.stats.received > 0 ? Math.max((2 * this.stats.tmax) / 1000, this.opts.intervalMs) : this.opts.lingerMs;
    this.lingerTimer.arm(wait);
  }

  private lingerExpired(): void {
    if (this.finished) return;
    // A request still queued behind ARP / ND has not left yet; its answer (a reply, or an
    // unreachable error when resolution gives up after its few retries) is still to come.
    if (this.path.awaitingResolution()) {
      this.resolutionPending = true;
      this.lingerTimer.arm(RESOLUTION_RECHECK_MS);
      return;
    }
    // Resolution just gave up: its error about our request travels over loopback; wait for it.
    if (this.resolutionPending) {
      this.resolutionPending = false;
      this.lingerTimer.arm(RESOLUTION_RECHECK_MS);
      return;
    }
    this.finish();
  }

  private checkDone(): void {
    const o = this.opts;
    if (o.count > 0 && this.stats.received + this.stats.errors >= o.count) this.finish();
    else if (o.deadlineMs !== null && this.stats.errors > 0) this.finish();
  }

  /** EchoSink: a reply to one of our requests (the path checked the identifier). */
  reply(from: string, seq: number, ttl: number, length: number, payload: Uint8Array): void {
    if (this.finished) return;
    const o = this.opts;
    const stats = this.stats;
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
      let line = `${length} bytes from ${from}: icmp_seq=${seq} ttl=${ttl}`;
      if (length < o.size + ICMP_HEADER_LENGTH) line += ' (truncated)\n';
      else {
        if (this.timing) line += ` time=${formatTripTime(tripUs)}`;
        if (duplicate) line += ' (DUP!)';
        line += describeWrongData(this.data, payload, this.timing ? TIMESTAMP_BYTES : 0);
        line += this.path.replyTrailer();
        line += '\n';
      }
      o.write(line);
    }
    this.checkDone();
  }

  /**
   * EchoSink: an error about one of our requests. Counted errors end in the statistics;
   * advice (redirects, source quench) is printed with a colon, as iputils does, and not counted.
   */
  error(from: string, seq: number, text: string, counted: boolean, verboseText: string): void {
    if (this.finished) return;
    if (!counted) {
      if (!this.opts.quiet) this.opts.write(`From ${from}: icmp_seq=${seq} ${text}\n` + (this.opts.verbose ? verboseText : ''));
      return;
    }
    this.stats.errors++;
    this.stats.acknowledge(seq);
    if (!this.opts.quiet) this.opts.write(`From ${from} icmp_seq=${seq} ${text}\n` + (this.opts.verbose ? verboseText : ''));
    this.checkDone();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sendTimer.disarm();
    this.lingerTimer.disarm();
    this.deadlineTimer.disarm();
    this.path.close();
    const o = this.opts;
    const elapsed = this.stats.transmitted > 0 ? this.lastSentAt - this.startedAt : 0;
    o.write(formatStatistics(this.stats, o.destinationText, elapsed, this.timing));
    const missed = this.stats.received === 0 || (o.deadlineMs !== null && o.count > 0 && this.stats.received < o.count);
    this.exitCode = missed ? 1 : 0;
    this.resolveDone(this.exitCode);
  }
}

/**
 * ICMP echo over IPv4: requests through the stack's ICMP service (with -R's Record Route
 * option), replies and errors from its listeners, failed ARP reported as Linux does.
 */
export class Icmp4EchoPath implements EchoPath {
  private readonly options: Uint8Array | undefined;
  private readonly previousRoute = { route: null as string | null };
  private lastReply: Ipv4Packet | null = null;
  private id = 0;
  private sink: EchoSink | null = null;
  private readonly listener: IcmpListener = {
    echoReply: (from, id, seq, ttl, ip, icmp) => this.onEchoReply(from, id, seq, ttl, ip, icmp),
    error: (from, type, code, original, _ip, icmp) => this.onIcmpError(from, type, code, original, icmp),
  };

  constructor(private readonly stack: Stack, private readonly destination: Ipv4Address, recordRoute: boolean, private readonly source: Ipv4Address | null, private readonly verbose: boolean) {
    this.options = recordRoute ? buildRecordRouteOption(9) : undefined;
  }

  headerLine(destinationText: string, size: number, interfaceText: string | null): string {
    const optionBytes = this.options !== undefined ? RECORD_ROUTE_OPTION_BYTES : 0;
    const from = interfaceText !== null ? ` from ${ipv4ToString(this.source ?? (this.stack.route(this.destination)?.src as number | undefined) ?? 0)} ${interfaceText}:` : '';
    return `PING ${destinationText} (${ipv4ToString(this.destination)})${from} ${size}(${size + ICMP_HEADER_LENGTH + optionBytes + IPV4_MIN_HEADER}) bytes of data.\n`;
  }

  open(id: number, sink: EchoSink): void {
    this.id = id;
    this.sink = sink;
    this.stack.icmp.listeners.add(this.listener);
  }

  close(): void {
    this.stack.icmp.listeners.delete(this.listener);
  }

  send(id: number, seq: number, data: Uint8Array, ttl: number | null): boolean {
    return this.stack.icmp.sendEcho(this.destination, id, seq, data, { ttl: ttl ?? undefined, options: this.options, src: this.source ?? undefined });
  }

  /**
   * A next hop whose ARP resolution just failed drops new packets for a few seconds without a
   * word; Linux answers each of them with Host Unreachable, and so does ping here.
   */
  failedNeighbor(): { from: string; text: string } | null {
    const rt = this.stack.route(this.destination);
    if (rt === null || rt.iface.isLoopback) return null;
    if (this.stack.neighbors.get(rt.nextHop as number)?.state !== 'failed') return null;
    return { from: ipv4ToString(rt.src as number), text: describeIcmpError(IcmpType.DestinationUnreachable, 1, 0) };
  }

  awaitingResolution(): boolean {
    const rt = this.stack.route(this.destination);
    if (rt === null || rt.iface.isLoopback) return false;
    const entry = this.stack.neighbors.get(rt.nextHop as number);
    return entry !== undefined && entry.state === 'incomplete' && entry.queue.length > 0;
  }

  replyTrailer(): string {
    const ip = this.lastReply;
    if (ip === null || ip.headerLength <= IPV4_MIN_HEADER) return '';
    return formatReplyOptions(ip.buf, ip.optionsOffset, ip.optionsLength, this.previousRoute);
  }

  private onEchoReply(from: Ipv4Address, id: number, seq: number, ttl: number, ip: Ipv4Packet, icmp: IcmpPacket): void {
    if (id !== this.id || this.sink === null) return;
    this.lastReply = ip;
    const payload = icmp.buf.subarray(icmp.dataOffset, icmp.offset + icmp.length);
    this.sink.reply(ipv4ToString(from), seq, ttl, icmp.length, payload);
    this.lastReply = null;
  }

  private onIcmpError(from: Ipv4Address, type: number, code: number, original: Ipv4Packet, icmp: IcmpPacket): void {
    if (this.sink === null) return;
    // Only errors about our own echo requests to this destination: the quoted header and the
    // 8 bytes after it hold our ICMP header with its identifier and sequence number.
    const hl = original.headerLength;
    if (original.protocol !== IpProtocol.ICMP || original.dst !== this.destination) return;
    const q = original.offset + hl;
    if (original.length < hl + ICMP_HEADER_LENGTH || q + ICMP_HEADER_LENGTH > original.buf.length) return;
    const b = original.buf;
    if (b[q] !== IcmpType.EchoRequest || ((b[q + 4]! << 8) | b[q + 5]!) !== this.id) return;
    const seq = (b[q + 6]! << 8) | b[q + 7]!;
    const info = type === IcmpType.DestinationUnreachable && code === 4 ? icmp.nextHopMtu : type === IcmpType.ParameterProblem ? icmp.pointer : icmp.rest;
    const verboseText = this.verbose ? formatQuotedHeader(b.slice(original.offset, original.offset + Math.min(original.length, hl + ICMP_HEADER_LENGTH)), icmp) : '';
    // Redirects and Source Quench are advice, not failures.
    const counted = type !== IcmpType.Redirect && type !== IcmpType.SourceQuench;
    this.sink.error(ipv4ToString(from), seq, describeIcmpError(type, code, info), counted, verboseText);
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
    const ipv6 = config.family === 6 || (config.destination !== null && typeof config.destination !== 'number');
    host = await startHost({ taps: [config.tap], gateway: config.gateway, mtu: config.mtu, forwarding: false, pcapPath: config.pcapPath, logger, dns: config.dns, ipv6 });
  } catch (err) {
    // iputils exits 2 for every failure that is not "no reply".
    if (err instanceof FatalError) throw new FatalError(err.message, 2);
    throw err;
  }
  // Keeps Node running while waiting: the stack's own timers are unref'd on purpose.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signals: Array<[NodeJS.Signals, () => void]> = [];
  try {
    const stack = host.stack;
    const destination = config.destination ?? await resolveDestination(stack, config.destinationText, config.family ?? 4);
    const source = config.source ?? null;
    let path: EchoPath;
    if (typeof destination === 'number') {
      // iputils finds out before sending anything, by connecting a probe socket.
      if (stack.route(destination) === null) throw new FatalError('connect: Network is unreachable', 2);
      if (source !== null && (typeof source !== 'number' || !stack.isLocalAddress(source))) throw new FatalError('bind: Cannot assign requested address', 2);
      path = new Icmp4EchoPath(stack, destination, config.recordRoute, source as number | null, config.verbose);
    } else {
      const ipv6 = stack.ipv6;
      if (ipv6 === null || ipv6.route(destination) === null) throw new FatalError('connect: Network is unreachable', 2);
      if (source !== null && (typeof source === 'number' || !ipv6.isLocalAddress(source))) throw new FatalError('bind: Cannot assign requested address', 2);
      path = new Icmp6EchoPath(ipv6, destination, config.tap.name, source as Ipv6Addr | null);
    }
    const session = new PingSession(stack, {
      ...config,
      destination,
      // With the capture on standard output, ping's own lines go to standard error.
      write: config.pcapPath === '-' ? (text) => process.stderr.write(text) : (text) => process.stdout.write(text),
      warn: (text) => process.stderr.write(text),
    }, path);
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

/** DEST's address of `family` through pstack's resolver, failing in iputils' words and exit status. */
async function resolveDestination(stack: Stack, name: string, family: 4 | 6): Promise<IpAddress> {
  try {
    const found = await stack.resolver.lookup(name, { family });
    const address = Array.isArray(found) ? found[0]?.address : found.address;
    const v6 = family === 6 && address !== undefined ? parseIpv6(address) : null;
    const parsed = address === undefined ? null : family === 4 ? parseIpv4(address) : v6 === null ? null : intern6(v6);
    if (parsed === null) throw Object.assign(new Error(`no IPv${family} address`), { code: 'ENOTFOUND' });
    return parsed;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'Name or service not known' : 'Temporary failure in name resolution';
    throw new FatalError(`${name}: ${why}`, 2);
  }
}

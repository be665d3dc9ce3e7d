/**
 * One question asked of a list of servers until one answers it, as a stub resolver does
 * (resolv.conf's `timeout` and `attempts`): each attempt goes to each server in turn, waiting
 * `timeout` ms for it. Every query has a fresh random ID and leaves from a fresh random port
 * (RFC 5452 9.2 and 10); a datagram counts as the answer only if it comes from the server's
 * address and port, has the query's ID and QR set and repeats the question (RFC 5452 9.1).
 * Anything else is counted as dropped and the wait goes on. Sockets of earlier attempts stay
 * open until the exchange ends, so a late answer to an earlier query is still taken.
 *
 * A truncated answer (TC) is asked again over TCP, a 2-byte length before each message
 * (RFC 7766 8). A FORMERR or BADVERS to a query with EDNS is asked again without it (RFC 6891
 * 7). SERVFAIL, REFUSED and NOTIMP move on to the next server; the last of those is the
 * exchange's error when no server answers, ETIMEOUT when none says anything at all, and
 * EBADRESP when the only replies were malformed ones from the server.
 */

import { createSocket, type RemoteInfo, type UdpSocket, type UdpStack } from '../dgram.js';
import { connect, type Socket, type TcpStack } from '../net.js';
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from '../../transport/udp.js';
import { randomInt } from '../../transport/random.js';
import {
  DnsRcode, dnsNamesEqual, emitDnsQuery, parseDns, DNS_MAX_MESSAGE_LENGTH, type DnsMessage, type DnsQuestion,
} from '../../wire/dns.js';
import { serverTarget, type ServerAddress } from './servers.js';
import { BADRESP, CANCELLED, CONNREFUSED, FORMERR, NOTIMP, REFUSED, SERVFAIL, TIMEOUT } from './errors.js';

export type { ServerAddress } from './servers.js';

export interface ExchangeSettings {
  /** ms to wait for each server in each attempt. */
  timeout: number;
  /** Attempts per server. */
  tries: number;
  /** The UDP payload size advertised with EDNS(0); 0 sends no OPT record. */
  ednsSize: number;
  /** Index of the server to start with (rotation). */
  start: number;
}

/** What a resolver counts across its exchanges. */
export interface DnsStats {
  /** Questions that needed the network (cache misses). */
  queries: number;
  udpSent: number;
  tcpSent: number;
  /** Datagrams that were not a valid answer to an outstanding query (spoofed, late, malformed, duplicates). */
  dropped: number;
  /** Of those, the ones that did not parse. */
  malformed: number;
  /** Waits for a server that ended with nothing. */
  timeouts: number;
  /** Answers with TC set, asked again over TCP. */
  truncated: number;
  cacheHits: number;
}

export type ExchangeResult = { ok: true; message: DnsMessage } | { ok: false; code: string };

/** A 16-bit random number from the platform's CSPRNG (drawn from the transport's pool). */
export function random16(): number {
  return randomInt(0, 0x10000);
}

interface Outstanding {
  socket: UdpSocket;
  id: number;
  server: number;
  edns: boolean;
  answered: boolean;
}

type Arrival = { kind: 'answer'; message: DnsMessage; from: Outstanding } | { kind: 'cancel' };

/** Random ports tried before falling back to the stack's own ephemeral choice. */
const RANDOM_PORT_TRIES = 8;

export class Exchange {
  private readonly outstanding: Outstanding[] = [];
  private readonly arrivals: Arrival[] = [];
  private waiter: ((a: Arrival | null) => void) | null = null;
  private readonly ednsOk: boolean[];
  private readonly cleanups = new Set<() => void>();
  private cancelled = false;
  private sawMalformed = false;

  constructor(
    private readonly udp: UdpStack,
    private readonly tcp: TcpStack,
    private readonly servers: readonly ServerAddress[],
    private readonly question: DnsQuestion,
    private readonly settings: ExchangeSettings,
    private readonly stats: DnsStats,
  ) {
    this.ednsOk = servers.map(() => settings.ednsSize > 0);
  }

  /** End the exchange now: run() resolves with ECANCELLED. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.deliver({ kind: 'cancel' });
    for (const c of [...this.cleanups]) c();
  }

  async run(): Promise<ExchangeResult> {
    try {
      return await this.attempts();
    } finally {
      for (const o of this.outstanding) o.socket.close();
      this.outstanding.length = 0;
      this.waiter = null;
    }
  }

  private async attempts(): Promise<ExchangeResult> {
    const n = this.servers.length;
    if (n === 0) return { ok: false, code: CONNREFUSED };
    let lastCode: string | null = null;
    const failed = new Set<number>();
    for (let attempt = 0; attempt < this.settings.tries && failed.size < n; attempt++) {
      for (let k = 0; k < n; k++) {
        const si = (this.settings.start + k) % n;
        if (failed.has(si)) continue;
        if (this.cancelled) return { ok: false, code: CANCELLED };
        const sentWithEdns = this.ednsOk[si]!;
        if (!(await this.sendUdp(si))) {
          lastCode ??= CONNREFUSED;
          continue;
        }
        const deadline = Date.now() + this.settings.timeout;
        // Each outstanding query yields at most one arrival, so this ends.
        for (;;) {
          const a = await this.next(deadline - Date.now());
          if (a === null) {
            this.stats.timeouts++;
            break;
          }
          if (a.kind === 'cancel') return { ok: false, code: CANCELLED };
          let message = a.message;
          const from = a.from.server;
          if (message.header.tc) {
            this.stats.truncated++;
            const viaTcp = await this.askTcp(from, a.from.edns);
            if (!viaTcp.ok) {
              lastCode = viaTcp.code;
              if (viaTcp.code === CANCELLED) return viaTcp;
              if (from === si) break;
              continue;
            }
            message = viaTcp.message;
          }
          const verdict = this.judge(message, a.from.edns);
          if (verdict === null) return { ok: true, message };
          if (verdict === 'no-edns') {
            // Ask the same server again without EDNS (once: ednsOk is now false).
            this.ednsOk[from] = false;
            lastCode = FORMERR;
            if (from === si && sentWithEdns) k--;
          } else {
            lastCode = verdict;
            failed.add(from);
          }
          if (from === si) break;
        }
      }
    }
    if (this.cancelled) return { ok: false, code: CANCELLED };
    return { ok: false, code: lastCode ?? (this.sawMalformed ? BADRESP : TIMEOUT) };
  }

  /** null: a final answer (NOERROR or NXDOMAIN); else why this server failed, or 'no-edns'. */
  private judge(m: DnsMessage, withEdns: boolean): string | null {
    const rcode = ((m.edns?.extendedRcode ?? 0) << 4) | m.header.rcode;
    if (rcode === DnsRcode.NOERROR || rcode === DnsRcode.NXDOMAIN) return null;
    // FORMERR without an OPT, or BADVERS (16): the server does not do our EDNS.
    if (withEdns && ((rcode === DnsRcode.FORMERR && m.edns === null) || rcode === 16)) return 'no-edns';
    switch (rcode) {
      case DnsRcode.FORMERR: return FORMERR;
      case DnsRcode.SERVFAIL: return SERVFAIL;
      case DnsRcode.NOTIMP: return NOTIMP;
      case DnsRcode.REFUSED: return REFUSED;
      default: return BADRESP;
    }
  }

  private matches(m: DnsMessage, id: number): boolean {
    const q = m.questions[0];
    return m.header.qr && m.header.opcode === 0 && m.header.id === id && m.questions.length === 1 && q !== undefined
      && q.type === this.question.type && q.class === this.question.class && dnsNamesEqual(q.name, this.question.name);
  }

  private query(id: number, edns: boolean): Uint8Array | null {
    const q = emitDnsQuery({ id, name: this.question.name, type: this.question.type, class: this.question.class, udpPayloadSize: edns ? this.settings.ednsSize : 0 });
    return typeof q === 'string' ? null : q;
  }

  // ------------------------------------------------------------------ UDP

  /** Send a fresh query to server `si` from a fresh socket; false if that failed at once. */
  private async sendUdp(si: number): Promise<boolean> {
    const server = this.servers[si]!;
    const o: Outstanding = { socket: null as unknown as UdpSocket, id: random16(), server: si, edns: this.ednsOk[si]!, answered: false };
    const bytes = this.query(o.id, o.edns);
    if (bytes === null) return false;
    const socket = await this.openSocket(server.family === 6 ? 'udp6' : 'udp4', (msg, rinfo) => this.onDatagram(o, msg, rinfo));
    if (socket === null) return false;
    o.socket = socket;
    this.outstanding.push(o);
    if (this.cancelled) return false;
    const sent = await new Promise<boolean>((resolve) => {
      try {
        socket.send(bytes, server.port, serverTarget(server), (err) => resolve(err === null || err === undefined));
      } catch {
        resolve(false);
      }
    });
    if (sent) this.stats.udpSent++;
    return sent;
  }

  /** A UDP socket bound to a random port (RFC 5452 10), or the stack's pick if those are taken. */
  private async openSocket(type: 'udp4' | 'udp6', onMessage: (msg: Buffer, rinfo: RemoteInfo) => void): Promise<UdpSocket | null> {
    const span = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
    for (let i = 0; i <= RANDOM_PORT_TRIES; i++) {
      const port = i < RANDOM_PORT_TRIES ? EPHEMERAL_PORT_MIN + (random16() % span) : 0;
      const s = createSocket(this.udp, type, onMessage);
      s.on('error', () => { /* a bind failure is handled below; nothing else reaches an unconnected socket */ });
      const bound = await new Promise<boolean>((resolve) => {
        s.once('listening', () => resolve(true));
        s.once('error', () => resolve(false));
        try {
          s.bind(port);
        } catch {
          resolve(false);
        }
      });
      if (bound) return s;
      s.close();
    }
    return null;
  }

  private onDatagram(o: Outstanding, msg: Uint8Array, rinfo: RemoteInfo): void {
    const server = this.servers[o.server]!;
    if (o.answered || rinfo.address !== server.host || rinfo.port !== server.port) {
      this.stats.dropped++;
      return;
    }
    const m = parseDns(msg);
    if (typeof m === 'string') {
      this.stats.dropped++;
      this.stats.malformed++;
      // Malformed bytes from the server's address with our ID: remembered for the final error.
      if (msg.length >= 2 && ((msg[0]! << 8) | msg[1]!) === o.id) this.sawMalformed = true;
      return;
    }
    if (!this.matches(m, o.id)) {
      this.stats.dropped++;
      return;
    }
    o.answered = true;
    this.deliver({ kind: 'answer', message: m, from: o });
  }

  private deliver(a: Arrival): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w(a);
    } else this.arrivals.push(a);
  }

  /** The next arrival, or null after `ms`. */
  private next(ms: number): Promise<Arrival | null> {
    const queued = this.arrivals.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.cancelled) return Promise.resolve({ kind: 'cancel' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, Math.max(0, ms));
      this.waiter = (a) => {
        clearTimeout(timer);
        resolve(a);
      };
    });
  }

  // ------------------------------------------------------------------ TCP

  /** Ask server `si` over TCP (RFC 7766): one query, one length-prefixed answer. */
  private askTcp(si: number, edns: boolean): Promise<ExchangeResult> {
    const server = this.servers[si]!;
    const id = random16();
    const q = this.query(id, edns);
    if (q === null) return Promise.resolve({ ok: false, code: BADRESP });
    this.stats.tcpSent++;
    return new Promise((resolve) => {
      let socket: Socket | null = null;
      let received = new Uint8Array(0);
      let done = false;
      const finish = (r: ExchangeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.cleanups.delete(onCancel);
        socket?.destroy();
        resolve(r);
      };
      const onCancel = () => finish({ ok: false, code: CANCELLED });
      this.cleanups.add(onCancel);
      const timer = setTimeout(() => finish({ ok: false, code: TIMEOUT }), this.settings.timeout);
      try {
        socket = connect(this.tcp, { host: serverTarget(server), port: server.port, noDelay: true });
      } catch {
        finish({ ok: false, code: CONNREFUSED });
        return;
      }
      socket.on('error', (err: Error & { code?: string }) => finish({ ok: false, code: err.code === 'ETIMEDOUT' ? TIMEOUT : CONNREFUSED }));
      socket.on('close', () => finish({ ok: false, code: received.length > 0 ? BADRESP : CONNREFUSED }));
      socket.on('connect', () => {
        const frame = new Uint8Array(2 + q.length);
        frame[0] = q.length >>> 8;
        frame[1] = q.length & 0xff;
        frame.set(q, 2);
        socket!.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        if (done) return;
        if (received.length + chunk.length > 2 * (2 + DNS_MAX_MESSAGE_LENGTH)) {
          finish({ ok: false, code: BADRESP });
          return;
        }
        const all = new Uint8Array(received.length + chunk.length);
        all.set(received);
        all.set(chunk, received.length);
        received = all;
        // Messages that are not our answer (none should come) are skipped; the size bound above ends this.
        while (!done && received.length >= 2) {
          const len = (received[0]! << 8) | received[1]!;
          if (received.length < 2 + len) break;
          const m = parseDns(received, 2, len);
          received = received.slice(2 + len);
          if (typeof m === 'string') finish({ ok: false, code: BADRESP });
          else if (this.matches(m, id)) finish({ ok: true, message: m });
          else this.stats.dropped++;
        }
      });
    });
  }
}

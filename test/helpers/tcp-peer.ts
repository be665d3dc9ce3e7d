// A scripted TCP peer for unit tests: one pstack stack (192.0.2.2) on a capture device, a
// fake clock, and hand-built segments from 192.0.2.1 injected one batch at a time.
import { FakeClock } from '../../src/time/clock.js';
import { Stack } from '../../src/api/stack.js';
import { CaptureDevice } from './capture-device.js';
import { SoftwareOffloadDevice } from './offload-device.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { emitEthernet, EtherType } from '../../src/wire/ethernet.js';
import { emitIpv4, Ipv4Packet } from '../../src/wire/ipv4.js';
import { emitTcp, TcpFlag, TcpSegment, tcpFlagsShort } from '../../src/wire/tcp.js';
import type { MemoryConfig } from '../../src/stack/memory-budget.js';
import { emitTcpOptionList, listTcpOptions, type TcpOption } from '../../src/wire/tcp-options.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { StackEvents } from '../../src/stack/observer.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';

export const F = TcpFlag;
export const PEER = parseIpv4('192.0.2.1')!;
export const US = parseIpv4('192.0.2.2')!;
const PEER_MAC = parseMac('02:00:00:00:00:01')!;
const US_MAC = parseMac('00:00:5e:00:53:01')!;

export interface OutSeg {
  srcPort?: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOption[];
  data?: Uint8Array;
  /** The IP ECN field (RFC 3168: 2 ECT(0), 3 CE); default 0, Not-ECT. */
  ecn?: number;
}

export interface Seen {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
  options: TcpOption[];
  mss?: number;
  ws?: number;
  sackPermitted: boolean;
  ts?: { tsVal: number; tsEcr: number };
  sack?: Array<[number, number]>;
  /** tcpdump-style flags, e.g. "S.", "F.", "R" */
  f: string;
  ipDf: boolean;
  /** The IP ECN field it carried. */
  ecn: number;
}

export class ScriptedPeer {
  readonly clock = new FakeClock(1_000_000);
  readonly stack: Stack;
  readonly dev: CaptureDevice;
  readonly tcp: Tcp;
  peerPort = 40000;

  /** With `offload`: the device in front of the capture, cutting TSO segments as the kernel does. */
  readonly offload: SoftwareOffloadDevice | null;

  constructor(opts: { tcp?: Partial<TcpConfig>; mtu?: number; events?: StackEvents; memory?: Partial<MemoryConfig>; offload?: boolean } = {}) {
    this.stack = new Stack({ timers: this.clock.timers, tcp: opts.tcp, events: opts.events, memory: opts.memory });
    this.dev = new CaptureDevice('tap0', US_MAC, opts.mtu ?? 1500);
    this.offload = opts.offload === true ? new SoftwareOffloadDevice(this.dev) : null;
    const iface = this.stack.addInterface(this.offload ?? this.dev, { address: US, prefixLength: 24 });
    this.stack.neighbors.addStatic(iface, PEER, PEER_MAC);
    this.stack.start();
    this.tcp = this.stack.tcp;
  }

  frame(s: OutSeg): Uint8Array {
    const opts = s.options ?? [];
    const optBuf = new Uint8Array(40);
    const optLen = emitTcpOptionList(optBuf, 0, opts);
    const data = s.data ?? new Uint8Array(0);
    const tcpLen = 20 + optLen + data.length;
    const f = new Uint8Array(14 + 20 + tcpLen);
    emitEthernet(f, 0, US_MAC, PEER_MAC, EtherType.IPv4);
    f.set(optBuf.subarray(0, optLen), 34 + 20);
    f.set(data, 34 + 20 + optLen);
    emitTcp(f, 34, {
      srcPort: s.srcPort ?? this.peerPort, dstPort: s.dstPort, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0,
      flags: s.flags, window: s.window ?? 65535, urgentPointer: 0,
    }, optLen, data.length, PEER, US);
    emitIpv4(f, 14, {
      tos: s.ecn ?? 0, id: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 6,
      src: PEER, dst: US, options: new Uint8Array(0), payloadLength: tcpLen,
    });
    return f;
  }

  /** Inject segments as one device batch (endBatch runs after the last). */
  send(...segs: OutSeg[]): void {
    this.dev.inject(...segs.map((s) => this.frame(s)));
  }

  /** Segments pstack sent since the last take(), parsed. */
  take(): Seen[] {
    // What the event loop's check phase would do once the application has had its turn.
    this.tcp.sendAcksAfterReplies();
    const out: Seen[] = [];
    for (const f of this.dev.take()) {
      if (f[12] !== 0x08 || f[13] !== 0x00) continue;
      const ip = new Ipv4Packet(f, 14, f.length - 14);
      if (ip.protocol !== 6) continue;
      const t = new TcpSegment(f, ip.payloadOffset, ip.payloadLength);
      const options = listTcpOptions(f, t.optionsOffset, t.optionsLength) ?? [];
      const s: Seen = {
        srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack, flags: t.flags, window: t.window,
        data: t.payload().slice(), options, sackPermitted: false, f: tcpFlagsShort(t.flags), ipDf: ip.dontFragment, ecn: ip.tos & 3,
      };
      for (const o of options) {
        if (o.kind === 'MSS') s.mss = o.value;
        else if (o.kind === 'WS') s.ws = o.shift;
        else if (o.kind === 'SACK_PERMITTED') s.sackPermitted = true;
        else if (o.kind === 'TS') s.ts = { tsVal: o.tsVal, tsEcr: o.tsEcr };
        else if (o.kind === 'SACK') s.sack = o.blocks;
      }
      out.push(s);
    }
    return out;
  }

  /** Advance the fake clock (timers fire). */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Run queued microtasks (the TCP notification/ACK flush outside batches). */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  }

  close(): void {
    this.stack.close();
  }
}

/** Options a Linux client puts in its SYN. */
export function linuxSynOptions(tsVal = 1000, ws = 7, mss = 1460): TcpOption[] {
  return [
    { kind: 'MSS', value: mss }, { kind: 'SACK_PERMITTED' }, { kind: 'TS', tsVal, tsEcr: 0 }, { kind: 'NOP' }, { kind: 'WS', shift: ws },
  ];
}

export function tsOpt(tsVal: number, tsEcr: number): TcpOption[] {
  return [{ kind: 'NOP' }, { kind: 'NOP' }, { kind: 'TS', tsVal, tsEcr }];
}

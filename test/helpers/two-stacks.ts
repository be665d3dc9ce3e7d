// Two pstack hosts joined by a MemoryWire: A = 192.0.2.1, B = 192.0.2.2 (documentation range);
// with `ipv6` also A = 2001:db8::1/64, B = 2001:db8::2/64 (no DAD, no SLAAC).
import { Stack } from '../../src/api/stack.js';
import { MemoryWire, type MemoryWireOptions } from '../../src/link/memory-wire.js';
import { FakeClock, type Clock } from '../../src/time/clock.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';
import { parseIpv6Cidr } from '../../src/wire/addr6.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { TcpConfig } from '../../src/transport/tcp/tcb.js';
import { SoftwareOffloadDevice } from './offload-device.js';

export const ADDR_A = parseIpv4('192.0.2.1')!;
export const ADDR_B = parseIpv4('192.0.2.2')!;

export interface Pair {
  wire: MemoryWire;
  a: Stack;
  b: Stack;
  tcpA: Tcp;
  tcpB: Tcp;
  clock: FakeClock | null;
  /** With `offload`: A's and B's devices, which do checksum completion and TSO in software ('off': checks none is asked for). */
  offloadA: SoftwareOffloadDevice | null;
  offloadB: SoftwareOffloadDevice | null;
  /** Manual mode: deliver everything due, advancing the fake clock by `stepMs` between rounds until quiet. */
  run(ms: number, stepMs?: number): void;
  close(): void;
}

export function makePair(opts: { wire?: MemoryWireOptions; tcp?: Partial<TcpConfig>; tcpA?: Partial<TcpConfig>; tcpB?: Partial<TcpConfig>; fake?: boolean; mtu?: number; offload?: boolean | 'off'; ipv6?: boolean } = {}): Pair {
  const fake = opts.fake ?? false;
  const clock = fake ? new FakeClock(1_000_000) : null;
  const wire = new MemoryWire({ mode: fake ? 'manual' : 'auto', clock: clock ?? undefined, mtu: opts.mtu, ...opts.wire });
  const ipv6 = opts.ipv6 === true ? { slaac: false, ndp: { dadTransmits: 0 } } : undefined;
  const mk = (name: string, mac: string, addr: number, cfg: Partial<TcpConfig>, addr6: string) => {
    const stack = new Stack({ ...(clock !== null ? { timers: clock.timers } : {}), tcp: { ...opts.tcp, ...cfg }, ...(ipv6 !== undefined ? { ipv6 } : {}) });
    const plain = wire.createDevice(name, parseMac(mac)!);
    // 'off': the same checking wrapper, offering no offloads.
    const offload = opts.offload === undefined || opts.offload === false ? null : new SoftwareOffloadDevice(plain, opts.offload === true);
    const device = offload ?? plain;
    stack.addInterface(device, { address: addr, prefixLength: 24 });
    if (ipv6 !== undefined) stack.ipv6!.addAddress(device, stack.devices.indexOf(device), parseIpv6Cidr(addr6)!);
    stack.start();
    const tcp = stack.tcp;
    return { stack, tcp, offload };
  };
  const A = mk('a', '00:00:5e:00:53:0a', ADDR_A, opts.tcpA ?? {}, '2001:db8::1/64');
  const B = mk('b', '00:00:5e:00:53:0b', ADDR_B, opts.tcpB ?? {}, '2001:db8::2/64');
  return {
    wire, a: A.stack, b: B.stack, tcpA: A.tcp, tcpB: B.tcp, clock, offloadA: A.offload, offloadB: B.offload,
    run(ms: number, stepMs = 1) {
      if (clock === null) throw new Error('run() needs the fake clock');
      const end = clock.now() + ms;
      for (;;) {
        wire.flush();
        if (clock.now() >= end) break;
        clock.advance(Math.min(stepMs, end - clock.now()));
      }
      wire.flush();
    },
    close() {
      A.stack.close();
      B.stack.close();
      wire.close();
    },
  };
}

export type { Clock };

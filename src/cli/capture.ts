/**
 * `pstack capture [-i IFACE] [-c COUNT] [-w FILE] [-X] [EXPRESSION]`: watch a running
 * server's packets live over its control socket, printed one line each as `tcpdump -n`
 * prints them (or written to a pcapng file with -w), with tcpdump's closing counts.
 */

import { createConnection } from 'node:net';
import { FatalError, UsageError } from './errors.js';
import { SOCKET_OPTIONS_USAGE, parse, socketChoice } from './inspect.js';
import { RECORD_END, RECORD_FRAME, type CaptureEndJson, type CaptureInterfaceJson } from './capture-stream.js';
import { PcapngOutput } from './pcapng-output.js';
import { TcpdumpFormatter } from '../observe/tcpdump.js';
import { FilterSyntaxError, compileFilter } from '../observe/filter.js';
import { DIRECTION_INBOUND, DIRECTION_OUTBOUND, LINKTYPE_RAW } from '../observe/pcapng.js';

export const CAPTURE_USAGE = `usage: pstack capture [options] [EXPRESSION]   print a running server's packets as tcpdump -n does
  -i, --interface IF  the device to watch: tap0, lo, ... or any (default: the first tap)
  -c, --count N       stop after N packets
  -w, --write FILE    write the packets to FILE as pcapng instead ("-": standard output)
  -X                  also print each packet in hex and ASCII (as tcpdump -X)
  EXPRESSION          tcpdump's filter primitives: host, net (CIDR or NET mask MASK), port,
                      portrange, src/dst, arp, ip, ip6, icmp, icmp6, igmp, tcp, udp,
                      ether host/src/dst, IPv4 or IPv6 hosts and nets (2001:db8::/32),
                      and/or/not (&&, ||, !), parentheses; evaluated in the server
${SOCKET_OPTIONS_USAGE.split('\n').filter((l) => !l.includes('--json')).join('\n')}`;

export interface CaptureArgs {
  path: string;
  iface: string | null;
  count: number | null;
  write: string | null;
  hex: boolean;
  filter: string;
}

export function parseCaptureArgs(argv: string[]): CaptureArgs | 'help' {
  const parsed = parse(argv, {
    tap: { type: 'string' },
    control: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    interface: { type: 'string', short: 'i' },
    count: { type: 'string', short: 'c' },
    write: { type: 'string', short: 'w' },
    X: { type: 'boolean', short: 'X' },
    numeric: { type: 'boolean', short: 'n' },
  });
  const v = parsed.values;
  if (v.help) return 'help';
  let count: number | null = null;
  if (v.count !== undefined) {
    if (!/^\d+$/.test(v.count) || Number(v.count) < 1) throw new UsageError(`invalid -c ${JSON.stringify(v.count)}: expected a packet count of at least 1`);
    count = Number(v.count);
  }
  const filter = parsed.positionals.join(' ');
  try {
    compileFilter(filter);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw new FatalError(err.message);
    throw err;
  }
  const choice = socketChoice({ tap: v.tap, control: v.control });
  return { path: choice.path, iface: v.interface ?? null, count, write: v.write ?? null, hex: v.X ?? false, filter };
}

const LINK_NAMES: Record<number, string> = { 1: 'EN10MB (Ethernet)', 101: 'RAW (Raw IP)' };

export async function runCapture(argv: string[]): Promise<number> {
  const args = parseCaptureArgs(argv);
  if (args === 'help') {
    process.stdout.write(CAPTURE_USAGE + '\n');
    return 0;
  }
  return new Promise<number>((resolve, reject) => {
    const conn = createConnection(args.path);
    let header: string | null = '';
    let interfaces: CaptureInterfaceJson[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let shown = 0;
    let end: CaptureEndJson | null = null;
    let out: PcapngOutput | null = null;
    const formatter = new TcpdumpFormatter();
    const toStdout = args.write === null;
    const onSignal = () => {
      if (!conn.destroyed) conn.write('{"cmd":"capture-stop"}\n');
      setTimeout(() => conn.destroy(), 1000).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let done = false;
    const finish = async (err: Error | null) => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await out?.close();
      if (err !== null) return reject(err);
      const dropped = end?.dropped ?? 0;
      const plural = (n: number) => `${n} packet${n === 1 ? '' : 's'}`;
      process.stderr.write(`${plural(shown)} captured\n${plural(end?.matched ?? shown)} received by filter\n${plural(dropped)} dropped by kernel\n`);
      resolve(0);
    };
    conn.on('connect', () => {
      conn.write(JSON.stringify({ cmd: 'capture', interface: args.iface, count: args.count, filter: args.filter }) + '\n');
    });
    conn.on('data', (data: Buffer) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      if (header !== null) {
        const nl = pending.indexOf(10);
        if (nl < 0) return;
        const response = JSON.parse(pending.subarray(0, nl).toString('utf8')) as { ok: boolean; error?: string; interfaces?: CaptureInterfaceJson[] };
        pending = pending.subarray(nl + 1);
        header = null;
        if (!response.ok) {
          conn.destroy();
          void finish(new FatalError(response.error ?? 'the server refused the capture'));
          return;
        }
        interfaces = response.interfaces ?? [];
        const first = args.iface ?? interfaces.find((i) => i.linkType !== LINKTYPE_RAW)?.name ?? 'any';
        const linkType = interfaces.find((i) => i.name === first)?.linkType;
        process.stderr.write(`listening on ${first}, link-type ${linkType !== undefined ? LINK_NAMES[linkType] : 'LINUX_SLL2 (Linux cooked v2)'}, snapshot length 262144 bytes\n`);
        if (args.write !== null) {
          try {
            out = PcapngOutput.open(args.write, interfaces);
          } catch (err) {
            conn.destroy();
            void finish(new FatalError(`cannot write ${args.write}: ${(err as Error).message}`));
            return;
          }
        }
      }
      while (pending.length >= 4) {
        const size = pending.readUInt32BE(0);
        if (pending.length < 4 + size) break;
        const rec = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        if (rec[0] === RECORD_END) {
          end = JSON.parse(rec.subarray(1).toString('utf8')) as CaptureEndJson;
        } else if (rec[0] === RECORD_FRAME && size >= 12) {
          if (args.count !== null && shown >= args.count) continue;
          const direction = rec[1]!;
          const ifIndex = rec.readUInt16BE(2);
          const us = rec.readUInt32BE(4) * 1e6 + rec.readUInt32BE(8);
          const frame = rec.subarray(12);
          shown++;
          if (out !== null) out.write(ifIndex, direction === 1 ? DIRECTION_INBOUND : DIRECTION_OUTBOUND, frame, 0, frame.length, us);
          else if (toStdout) {
            const link = interfaces[ifIndex]?.linkType === LINKTYPE_RAW ? 'ip' : 'ethernet';
            process.stdout.write(formatter.line(us, frame, 0, frame.length, link, args.hex));
          }
        }
      }
    });
    conn.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') void finish(new FatalError(`no pstack server is running with control socket ${args.path} (start pstack server, or give --tap NAME or --control PATH)`));
      else if (code === 'EACCES' || code === 'EPERM') void finish(new FatalError(`permission denied on control socket ${args.path}: run as root`));
      else void finish(new FatalError(`cannot reach the pstack server on ${args.path}: ${err.message}`));
    });
    conn.on('close', (hadError) => {
      if (!hadError) void finish(null);
    });
  });
}

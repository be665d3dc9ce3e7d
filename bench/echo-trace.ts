/**
 * Where the time of one paced ping goes inside pstack:
 *
 *   npx tsc -p . && node dist/bench/echo-trace.js [--busy-poll US|always] [--log-level LEVEL] [--count N]
 *                                                 [--interval SECONDS]
 *
 * Needs root. Creates a private namespace (deleted at the end, whatever happens), runs a
 * pstack host on a TAP in it (the same assembly as `pstack server`, in a child process), and
 * pings it from the kernel side of the tap: a warm-up flood, then N pings 10 ms apart (or
 * --interval apart, as ping -i: on a VM the gap decides how cold everything is). Each
 * echo is stamped on process.hrtime's clock (CLOCK_MONOTONIC, as the addon's stamp):
 *
 *   wakeup    the addon picked the batch up (epoll wakeup or busy-poll pass; native stamp)
 *   js        the stack's receiveFrame was entered
 *   built     the reply reached device.send (Ethernet, IPv4 and ICMP done)
 *   written   the native write() returned
 *
 * and the medians are printed next to ping's own RTT median: what is left of the RTT outside
 * wakeup..written is the kernel (ping's send and receive, the tap) and the wakeup itself.
 * Only 192.0.2.0/24; every command bounded in count and time.
 */

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Netns } from '../test/e2e/harness.js';
import { parseLogLevel, type LogThreshold } from '../src/observe/log.js';
import { median, startBenchHost } from './common.js';

const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    inner: { type: 'boolean' },
    'busy-poll': { type: 'string' },
    'log-level': { type: 'string' },
    count: { type: 'string' },
    interval: { type: 'string' },
  },
  strict: true,
});

function busyPollOf(text: string | undefined): number | 'always' | undefined {
  if (text === undefined) return undefined;
  return text === 'always' ? 'always' : Number(text);
}

async function inner(): Promise<void> {
  const logLevel = (parseLogLevel(values['log-level'] ?? 'info') ?? 'info') as LogThreshold;
  const host = await startBenchHost({ logLevel, busyPoll: busyPollOf(values['busy-poll']) });
  const tap = host.taps[0]!;
  const stack = host.stack;
  const hr = process.hrtime.bigint;
  let entry = 0n;
  let samples: number[][] = [];
  const receiveFrame = stack.receiveFrame.bind(stack);
  stack.receiveFrame = (device, frame, rxFlags) => {
    entry = hr();
    receiveFrame(device, frame, rxFlags);
  };
  const send = tap.send.bind(tap);
  tap.send = (frame, ...offload: number[]) => {
    const built = hr();
    send(frame, ...offload);
    const written = hr();
    const wakeup = tap.lastWakeupNs();
    samples.push([Number(entry) - wakeup, Number(built - entry), Number(written - built)]);
  };
  process.on('SIGUSR1', () => (samples = []));
  process.on('SIGUSR2', () => {
    process.stdout.write(JSON.stringify({ samples, stats: tap.stats() }) + '\n', () => {
      host.close();
      process.exit(0);
    });
  });
  process.stderr.write('trace host ready\n');
}

const interval = Number(values['interval'] ?? 0.01);
if (!(interval >= 0.0002 && interval <= 1)) {
  process.stderr.write(`echo-trace: --interval ${values['interval']}: expected 0.0002 to 1 (seconds, as ping -i)\n`);
  process.exit(2);
}

async function outer(): Promise<void> {
  const count = Math.min(Math.max(Number(values['count'] ?? 200), 10), 2000);
  const ns = await Netns.create('etr');
  try {
    const args = [SELF, '--inner'];
    if (values['busy-poll'] !== undefined) args.push('--busy-poll', values['busy-poll']);
    if (values['log-level'] !== undefined) args.push('--log-level', values['log-level']);
    const child = ns.spawn(process.execPath, args);
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const closed = new Promise<void>((r) => child.on('close', () => r()));
    for (let i = 0; !err.includes('trace host ready'); i++) {
      if (i > 300) throw new Error(`trace host not ready:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
    await ns.exec('ping', ['-f', '-q', '-c', '200000', '-w', '2', '192.0.2.2'], { timeoutMs: 10_000 });
    child.kill('SIGUSR1');
    await new Promise((r) => setTimeout(r, 100));
    const ping = await ns.exec('ping', ['-c', String(count), '-i', String(interval), '-W', '1', '192.0.2.2'], { timeoutMs: (count * interval + 30) * 1000 });
    child.kill('SIGUSR2');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await closed;
    clearTimeout(timer);
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
    const result = JSON.parse(out.trim().split('\n').pop()!) as { samples: number[][]; stats: Record<string, number> };
    const col = (i: number) => median(result.samples.map((s) => s[i]! / 1000));
    const wakeToJs = col(0), jsToBuilt = col(1), builtToWritten = col(2);
    const inside = median(result.samples.map((s) => (s[0]! + s[1]! + s[2]!) / 1000));
    const rtt = median(rtts);
    const f = (n: number) => n.toFixed(1).padStart(7);
    process.stdout.write([
      `busy-poll ${values['busy-poll'] ?? '(default)'}, ${interval * 1000} ms apart, log level ${values['log-level'] ?? 'info'}: ${rtts.length} pings, ${result.samples.length} replies traced (medians, us)`,
      `  ping RTT                    ${f(rtt)}`,
      `  wakeup -> JS receiveFrame   ${f(wakeToJs)}`,
      `  JS entry -> reply built     ${f(jsToBuilt)}`,
      `  reply built -> write done   ${f(builtToWritten)}`,
      `  wakeup -> write done        ${f(inside)}`,
      `  rest (kernel, ping, wakeup) ${f(rtt - inside)}`,
      `  tap stats ${JSON.stringify(result.stats)}`,
      '',
    ].join('\n'));
  } finally {
    await ns.destroy();
  }
}

(values.inner ? inner() : outer()).catch((err) => {
  process.stderr.write(`echo-trace: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});

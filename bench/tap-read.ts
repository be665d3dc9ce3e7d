/**
 * Micro-benchmark: how many frames per second TapDevice reads from the kernel.
 *
 *   npx tsc -p . && node dist/bench/tap-read.js [--seconds 3] [--pps 0] [--frame 1514] [--batch 256]
 *
 * Needs root. It creates a private network namespace (deleted at the end, whatever happens),
 * re-runs itself inside it, opens tap "tapb0" with TapDevice, and blasts frames at it from the
 * kernel side with bench/tap-blast.c (compiled on the fly with cc; python3 is the slower
 * fallback). Frames go from an AF_PACKET socket straight into the tap; nothing is routed and
 * only 192.0.2.0/24 appears in them. The receiver counts frames and reads one byte of each,
 * so the figure is the device layer's cost, not the stack's.
 */

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkUp } from '../src/link/host-link.js';
import { TapDevice } from '../src/link/tap.js';

const TAP_NAME = 'tapb0';
const RESULT_PREFIX = 'RESULT ';
const BLASTER_SOURCE = fileURLToPath(new URL('../../bench/tap-blast.c', import.meta.url));

interface Options {
  /** Length of the live run (at most 5 s). */
  seconds: number;
  /** Offered rate in the live run; 0 = as fast as the sender goes. */
  pps: number;
  frame: number;
  /** TapDevice batchFrames. */
  batch: number;
  /** Frames queued in the tap before the drain run reads them (each holds ~2.3 KiB of kernel memory). */
  fill: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 3, pps: 0, frame: 1514, batch: 256, fill: 300_000 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!.replace(/^--/, '');
    if (key in options) options[key as keyof Options] = Number(argv[++i]);
  }
  options.seconds = Math.min(Math.max(options.seconds, 0.5), 5);
  options.frame = Math.min(Math.max(options.frame, 60), 1514);
  options.fill = Math.min(Math.max(options.fill, 1000), 1_000_000);
  return options;
}

function run(
  command: string,
  args: string[],
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Used when no C compiler is around: much slower, so it may measure the sender instead. */
const PYTHON_BLASTER = `
import socket, struct, sys, time
ifname, seconds, frame_length, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind((ifname, 0x0800))
ip_length = frame_length - 14
header = bytes([0x45, 0]) + struct.pack('!H', ip_length) + bytes([0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 9, 192, 0, 2, 1])
frame = bytes([0, 0, 0x5e, 0, 0x53, 1, 0, 0, 0x5e, 0, 0x53, 9, 8, 0]) + header + bytes(ip_length - 20)
sent = errors = 0
start = time.monotonic()
deadline = start + seconds
while time.monotonic() < deadline and (count == 0 or sent < count):
    for _ in range(64):
        try:
            s.send(frame); sent += 1
        except OSError:
            errors += 1
print('sent %d errors %d seconds %.3f' % (sent, errors, time.monotonic() - start))
`;

// ---------------------------------------------------------------------------- inside the namespace

function readCounter(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${TAP_NAME}/statistics/${name}`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts what arrives; the clock starts at the first batch and stops at the last one. */
class CountingReceiver {
  frames = 0;
  bytes = 0;
  batches = 0;
  firstAt = 0;
  lastAt = 0;
  private touched = 0;
  receiveFrame(_device: unknown, frame: Uint8Array): void {
    this.frames++;
    this.bytes += frame.length;
    this.touched += frame[frame.length - 1]!;
  }
  endBatch(): void {
    this.batches++;
    this.lastAt = performance.now();
    if (this.firstAt === 0) this.firstAt = this.lastAt;
  }
  reset(): void {
    this.frames = this.bytes = this.batches = this.firstAt = this.lastAt = 0;
  }
  get seconds(): number {
    return (this.lastAt - this.firstAt) / 1000;
  }
}

async function blast(blaster: string[], options: Options, count: number): Promise<{ exit: number | null; sent: number }> {
  const [command, ...args] = blaster;
  const sender = spawn(
    command!,
    [...args, TAP_NAME, String(options.seconds), String(options.pps), String(options.frame), String(count)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  sender.stdout.on('data', (chunk) => (output += chunk));
  const exit = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => sender.kill('SIGKILL'), (options.seconds + 10) * 1000);
    sender.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const sent = /sent (\d+)/.exec(output);
  return { exit, sent: sent ? Number(sent[1]) : 0 };
}

async function openTap(options: Options, queueLength: number): Promise<{ device: TapDevice; receiver: CountingReceiver }> {
  const device = TapDevice.open({ name: TAP_NAME, batchFrames: options.batch });
  await linkUp(TAP_NAME);
  // The tap's queue towards us holds txqueuelen frames; beyond that the kernel drops.
  await run('ip', ['link', 'set', 'dev', TAP_NAME, 'txqueuelen', String(queueLength)]);
  return { device, receiver: new CountingReceiver() };
}

/** Sender and reader at the same time: what the whole path sustains (often sender-bound). */
async function liveRun(options: Options, blaster: string[]) {
  const { device, receiver } = await openTap(options, 10_000);
  device.open(receiver);
  await sleep(200); // let the link-up chatter (IPv6 ND, MLD) pass
  receiver.reset();
  const droppedBefore = readCounter('tx_dropped');
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const sender = await blast(blaster, options, 0);
  await sleep(200); // drain what is still queued
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - wallBefore;
  const tapDropped = readCounter('tx_dropped') - droppedBefore;
  const stats = device.stats();
  device.close();
  return {
    sent: sender.sent,
    senderExit: sender.exit,
    frames: receiver.frames,
    seconds: receiver.seconds,
    framesPerSecond: receiver.frames / receiver.seconds,
    gbitPerSecond: (receiver.bytes * 8) / receiver.seconds / 1e9,
    tapDropped,
    readerCpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    framesPerWakeup: stats.framesRead / stats.wakeups,
    fullBatches: stats.fullBatches,
  };
}

/**
 * The reader alone: the tap's queue is filled while nobody reads, then TapDevice starts and
 * the time to drain it is measured. No sender competes for the CPU, so this is the read
 * path's own ceiling.
 */
async function drainRun(options: Options, blaster: string[]) {
  const fill = options.fill;
  const { device, receiver } = await openTap(options, fill + 1000);
  await sleep(200);
  const droppedBefore = readCounter('tx_dropped');
  const fillStartedAt = performance.now();
  // The fill gets the full 5 s: a sender whose frames nobody reads slows down as kernel memory fills.
  const sender = await blast(blaster, { ...options, seconds: 5, pps: 0 }, fill);
  const fillSeconds = (performance.now() - fillStartedAt) / 1000;
  // tx_packets only counts frames once read, so what sits in the queue is sent minus dropped.
  const tapDropped = readCounter('tx_dropped') - droppedBefore;
  const queued = sender.sent - tapDropped;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  device.open(receiver);
  const deadline = startedAt + 10_000;
  let seen = -1;
  // Done when the count stops moving (the link-up chatter may add a few frames of its own).
  while (receiver.frames !== seen && performance.now() < deadline) {
    seen = receiver.frames;
    await sleep(100);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (receiver.lastAt - startedAt) / 1000;
  const stats = device.stats();
  device.close();
  return {
    sent: sender.sent,
    fillSeconds,
    queued,
    tapDropped,
    frames: receiver.frames,
    seconds,
    framesPerSecond: receiver.frames / seconds,
    gbitPerSecond: (receiver.bytes * 8) / seconds / 1e9,
    readerCpuMs: (cpu.user + cpu.system) / 1000,
    framesPerWakeup: stats.framesRead / stats.wakeups,
  };
}

async function child(namespace: string, options: Options, blaster: string[]): Promise<void> {
  const identity = await run('ip', ['netns', 'identify', String(process.pid)]);
  if (identity.stdout.trim() !== namespace) throw new Error(`refusing to run outside namespace ${namespace}`);
  const live = await liveRun(options, blaster);
  const drain = await drainRun(options, blaster);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ live, drain })}\n`);
}

// ---------------------------------------------------------------------------- host side

async function buildBlaster(dir: string): Promise<string[]> {
  const binary = join(dir, 'tap-blast');
  const compiled = await run('cc', ['-O2', '-o', binary, BLASTER_SOURCE]);
  if (compiled.code === 0) return [binary];
  process.stderr.write(`tap-read: cc failed (${compiled.stderr.trim() || 'no compiler'}); using the slower python3 sender\n`);
  return ['python3', '-c', PYTHON_BLASTER];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write('tap-read: needs root (creates a network namespace and a tap device)\n');
    process.exitCode = 1;
    return;
  }
  const namespace = `pstk-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'pstack-tap-bench-'));
  try {
    const blaster = await buildBlaster(dir);
    const added = await run('ip', ['netns', 'add', namespace]);
    if (added.code !== 0) throw new Error(`ip netns add: ${added.stderr}`);
    const env = { ...process.env, PSTACK_BENCH_CHILD: namespace, PSTACK_BENCH_BLASTER: JSON.stringify(blaster) };
    const script = fileURLToPath(import.meta.url);
    const outcome = await run(
      'ip',
      ['netns', 'exec', namespace, process.execPath, script, ...process.argv.slice(2)],
      (options.seconds + 30) * 1000,
      env,
    );
    const line = outcome.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    if (outcome.code !== 0 || !line) throw new Error(`benchmark child failed (exit ${outcome.code}):\n${outcome.stderr}`);
    const { live, drain } = JSON.parse(line.slice(RESULT_PREFIX.length));
    const fmt = (n: number) => Math.round(n).toLocaleString('en');
    console.log(`tap-read: ${options.frame}-byte frames, TapDevice batch ${options.batch}`);
    console.log(
      `  live   (sender and reader together, ${options.pps ? `${fmt(options.pps)} pps offered` : 'sender flat out'}, ${options.seconds} s):`,
    );
    console.log(
      `         read ${fmt(live.frames)} = ${fmt(live.framesPerSecond)} frames/s, ${live.gbitPerSecond.toFixed(2)} Gbit/s; ` +
        `the tap took ${fmt(live.sent)} and refused ${fmt(live.tapDropped)} (queue full: reader behind); ` +
        `reader CPU ${live.readerCpuPercent.toFixed(0)}%; ${live.framesPerWakeup.toFixed(1)} frames/wakeup`,
    );
    console.log(
      `  drain  (${fmt(drain.queued)} frames queued first in ${drain.fillSeconds.toFixed(1)} s, then read with no sender running):`,
    );
    console.log(
      `         read ${fmt(drain.frames)} in ${drain.seconds.toFixed(3)} s = ${fmt(drain.framesPerSecond)} frames/s, ` +
        `${drain.gbitPerSecond.toFixed(2)} Gbit/s; ${drain.framesPerWakeup.toFixed(1)} frames/wakeup`,
    );
    console.log(JSON.stringify({ bench: 'tap-read', frameBytes: options.frame, batch: options.batch, live, drain }));
  } finally {
    await run('ip', ['netns', 'del', namespace]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const childNamespace = process.env['PSTACK_BENCH_CHILD'];
if (childNamespace) {
  await child(childNamespace, parseOptions(process.argv.slice(2)), JSON.parse(process.env['PSTACK_BENCH_BLASTER'] ?? '[]'));
} else {
  await main();
}

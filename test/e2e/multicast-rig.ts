/**
 * The set-up test/e2e/multicast.test.ts and multicast6.test.ts share: a namespace, the pstack
 * program of fixtures/multicast-app.ts for one address family on its tap, tcpdump capturing
 * on the tap from then on, the app's one-line UDP control commands, and its counters.
 * Each test file keeps its own traffic and assertions.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Netns, startNodeScript, type ServerHandle } from './harness.js';

const APP = fileURLToPath(new URL('./fixtures/multicast-app.js', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MulticastRig {
  readonly ns: Netns;
  readonly app: ServerHandle;
  /** Where tcpdump writes what crossed the tap. */
  readonly pcapPath: string;
  /** One command line to the app's control port (unicast IPv4, from the kernel's side). */
  command(text: string): Promise<void>;
  /** Ask the app for its counters: the next "stats" line, as numbers by name. */
  stats(): Promise<Record<string, number>>;
  /** Stop tcpdump and wait until it has written the capture out. */
  stopCapture(): Promise<void>;
  /** Stop everything and delete the namespace and the capture. */
  close(): Promise<void>;
}

/**
 * Start the app for IPv`family` in a new namespace (named after `tag`) and capture `filter` on
 * its tap. On a failure half-way, what was started is stopped before the error is thrown.
 */
export async function startMulticastRig(family: 4 | 6, tag: string, filter: string): Promise<MulticastRig> {
  const dir = mkdtempSync(join(tmpdir(), `pstack-e2e-${tag}-`));
  let ns: Netns | undefined;
  let app: ServerHandle | undefined;
  let capture: ChildProcess | undefined;
  const close = async () => {
    if (capture !== undefined && capture.exitCode === null) capture.kill('SIGINT');
    await app?.stop();
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ns = await Netns.create(tag);
    app = await startNodeScript(ns, APP, [String(family)], /multicast app ready/, 60_000);
    const pcapPath = join(dir, 'tap0.pcap');
    // Capture on the kernel's side of the tap from here on (the tap exists once pstack opened it).
    capture = ns.spawn('tcpdump', ['-i', 'tap0', '-U', '-n', '-w', pcapPath, filter]);
    await tcpdumpListening(capture);
    return rigOf(ns, app, capture, pcapPath, close);
  } catch (err) {
    await close();
    throw err;
  }
}

function rigOf(ns: Netns, app: ServerHandle, capture: ChildProcess, pcapPath: string, close: () => Promise<void>): MulticastRig {
  const command = async (text: string) => {
    const r = await ns.exec('socat', ['-u', '-', 'UDP4-SENDTO:192.0.2.2:9000'], { input: text + '\n', timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
  };
  const statsLines = () => app.log.split('\n').filter((l) => l.startsWith('stats '));
  return {
    ns, app, pcapPath, command, close,
    async stats() {
      const seen = statsLines().length;
      await command('stats');
      const end = Date.now() + 10_000;
      while (statsLines().length <= seen) {
        assert.ok(Date.now() < end, `no stats answer:\n${app.log}`);
        await sleep(50);
      }
      const line = statsLines().pop()!;
      return Object.fromEntries(line.slice(6).split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
    },
    async stopCapture() {
      capture.kill('SIGINT');
      await new Promise((r) => capture.exitCode !== null ? r(null) : capture.on('close', r));
    },
  };
}

/** Resolve once tcpdump says it is listening (so nothing after this is missed). */
function tcpdumpListening(capture: ChildProcess): Promise<void> {
  let err = '';
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 15_000);
    capture.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/listening on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/**
 * TapDevice against the real kernel, inside a network namespace created for the test and
 * always deleted afterwards. Needs root and /dev/net/tun; skipped otherwise.
 *
 * The test re-runs this same file as a child process inside the namespace (`ip netns exec`),
 * with PSTACK_TAP_CHILD set to the namespace name: the child does the TAP work and prints one
 * `RESULT {json}` line, and the parent makes the assertions. Running the work in a child is
 * also how "closing the device lets the process exit by itself" is observed.
 *
 * Addresses: only 192.0.2.0/24 (documentation range) is used.
 */

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { addAddress, linkExists, linkUp } from '../../src/link/host-link.js';
import { TAP_ADDON_PATH, TapDevice, tapAddonAvailable } from '../../src/link/tap.js';

const TAP_NAME = 'tapt0';
const OUR_MAC = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
const HOST_IP = [192, 0, 2, 1];
const OUR_IP = [192, 0, 2, 3];
const ABSENT_IP = [192, 0, 2, 2];
const RESULT_PREFIX = 'RESULT ';

type Scenario = 'traffic' | 'close-without-start' | 'unref' | 'interface-deleted' | 'native-callback-throws' | 'busy-poll';

// ---------------------------------------------------------------------------- shared helpers

function run(command: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** ARP who-has 192.0.2.1 (the kernel's address) tell 192.0.2.3 (us), from our MAC. */
function arpRequestToHost(): Uint8Array {
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...OUR_MAC, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
    ...OUR_MAC, ...OUR_IP,
    0, 0, 0, 0, 0, 0, ...HOST_IP,
  ]);
}

function isArp(frame: Uint8Array, opcode: 1 | 2, targetIp: number[]): boolean {
  return (
    frame.length >= 42 &&
    frame[12] === 0x08 &&
    frame[13] === 0x06 &&
    frame[20] === 0 &&
    frame[21] === opcode &&
    targetIp.every((byte, i) => frame[38 + i] === byte)
  );
}

// ---------------------------------------------------------------------------- child side

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

function report(result: Record<string, unknown>): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

function errorSummary(error: unknown): { code?: unknown; message: string } {
  return error instanceof Error
    ? { code: (error as NodeJS.ErrnoException).code, message: error.message }
    : { message: String(error) };
}

async function childTraffic(): Promise<void> {
  const errors: string[] = [];
  const device = TapDevice.open({ name: TAP_NAME, onError: (e) => errors.push(String(e)) });

  let busy: unknown = null;
  try {
    TapDevice.open({ name: TAP_NAME }).close();
  } catch (error) {
    busy = errorSummary(error);
  }
  let tooLong: unknown = null;
  try {
    TapDevice.open({ name: 'a-name-too-long-for-linux' }).close();
  } catch (error) {
    tooLong = errorSummary(error);
  }

  let arpRequestsForAbsent = 0;
  let arpRepliesToUs = 0;
  let framesSeen = 0;
  let batches = 0;
  device.open({
    receiveFrame: (_device, frame) => {
      framesSeen++;
      if (isArp(frame, 1, ABSENT_IP)) arpRequestsForAbsent++;
      if (isArp(frame, 2, OUR_IP) && OUR_MAC.every((b, i) => frame[i] === b)) {
        arpRepliesToUs++;
        // A receiver bug must cost only this frame, not the batch or the device.
        if (arpRepliesToUs === 1) throw new Error('receiver failure on purpose');
      }
    },
    endBatch: () => {
      batches++;
    },
  });

  // The kernel refuses frames while the interface is down: a counted error, not an exception.
  device.send(arpRequestToHost());
  const sendErrnoWhileDown = device.lastSendErrno;

  await linkUp(TAP_NAME);
  await addAddress(TAP_NAME, '192.0.2.1/24');
  await addAddress(TAP_NAME, '192.0.2.1/24'); // already there: not an error

  // Three ARP requests to the kernel. Each gets a reply.
  for (let i = 0; i < 3; i++) device.send(arpRequestToHost());

  // A datagram to an address nobody has makes the kernel ARP for it on the tap.
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  socket.send(Buffer.from('pstack'), 9, ABSENT_IP.join('.'));

  const complete = await waitFor(() => arpRequestsForAbsent >= 1 && arpRepliesToUs >= 3, 8000);
  socket.close();
  const counters = { ...device.counters };
  const stats = device.stats();
  device.close();
  device.close();
  device.send(arpRequestToHost()); // after close: counted, not thrown

  report({
    complete,
    name: device.name,
    busy,
    tooLong,
    arpRequestsForAbsent,
    arpRepliesToUs,
    framesSeen,
    batches,
    counters,
    sendErrnoWhileDown,
    sendErrorsAfterClose: device.counters.sendErrors,
    receiveErrors: device.receiveErrors,
    errors,
    stats,
    existsAfterClose: await linkExists(TAP_NAME),
  });
  // No process.exit(): the parent checks that nothing keeps the event loop alive.
}

async function childCloseWithoutStart(): Promise<void> {
  const never = TapDevice.open({ name: TAP_NAME });
  never.close();
  const started = TapDevice.open({ name: TAP_NAME });
  started.open({ receiveFrame: () => {}, endBatch: () => {} });
  started.close();
  report({ ok: true });
}

async function childUnref(): Promise<void> {
  const device = TapDevice.open({ name: TAP_NAME });
  device.open({ receiveFrame: () => {}, endBatch: () => {} });
  device.unref();
  report({ ok: true });
}

async function childInterfaceDeleted(): Promise<void> {
  const errors: { code?: unknown; message: string }[] = [];
  const device = TapDevice.open({ name: TAP_NAME, onError: (e) => errors.push(errorSummary(e)) });
  device.open({ receiveFrame: () => {}, endBatch: () => {} });
  await linkUp(TAP_NAME);
  const deleted = await run('ip', ['link', 'del', 'dev', TAP_NAME]);
  const failed = await waitFor(() => device.failure !== null, 3000);
  // Reception stopped rather than spinning on an fd that stays readable forever.
  const wakeupsAtFailure = device.stats().wakeups;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const wakeupsLater = device.stats().wakeups;
  device.send(new Uint8Array(60));
  const sendErrors = device.counters.sendErrors;
  device.close();
  report({ deleted: deleted.code, failed, errors, wakeupsAtFailure, wakeupsLater, sendErrors });
}

/**
 * TapDevice never lets an exception reach the addon, so drive the addon directly to check its
 * own safety net: an exception from the batch callback goes to the error callback, and one
 * from the error callback is swallowed and counted. Without that net the process would die.
 */
async function childNativeCallbackThrows(): Promise<void> {
  const native = createRequire(import.meta.url)(TAP_ADDON_PATH);
  const opened = native.open(TAP_NAME, 1500, 8);
  let batches = 0;
  const reported: string[] = [];
  native.start(
    opened.handle,
    (count: number) => {
      batches++;
      throw new Error(`batch callback threw (${count} frames)`);
    },
    (error: unknown) => {
      reported.push(String(error));
      if (reported.length === 1) throw new Error('error callback threw too');
    },
  );
  await linkUp(TAP_NAME);
  await addAddress(TAP_NAME, '192.0.2.1/24');
  // Each request draws an ARP reply from the kernel, i.e. one more batch.
  const complete = await waitFor(() => {
    native.write(opened.handle, arpRequestToHost());
    return reported.length >= 2;
  }, 5000);
  const stats = native.stats(opened.handle);
  native.close(opened.handle);
  native.close(opened.handle);
  report({ complete, batches, reported, stats });
}

/**
 * Busy polling: 'always' keeps polling with no traffic; an adaptive window polls only after a
 * frame and then stops; a busy device still closes and lets the process exit.
 */
async function childBusyPoll(): Promise<void> {
  let badValue: unknown = null;
  try {
    TapDevice.open({ name: TAP_NAME, busyPoll: -5 }).close();
  } catch (error) {
    badValue = errorSummary(error);
  }
  const device = TapDevice.open({ name: TAP_NAME, busyPoll: 'always' });
  let replies = 0;
  let warms = 0;
  device.open({
    receiveFrame: (_device, frame) => {
      if (isArp(frame, 2, OUR_IP)) replies++;
    },
    endBatch: () => {},
    warm: () => warms++,
  });
  // No IPv6 on the tap: its unsolicited frames (router solicitations, MLD) would open windows.
  await run('sysctl', ['-q', '-w', `net.ipv6.conf.${TAP_NAME}.disable_ipv6=1`]);
  await linkUp(TAP_NAME);
  await addAddress(TAP_NAME, '192.0.2.1/24');
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await pause(100);
  const alwaysPasses = device.stats().busyPasses;
  const alwaysWarms = warms;
  const alwaysMode = device.busyPoll;
  device.send(arpRequestToHost());
  const alwaysReply = await waitFor(() => replies >= 1, 3000);

  device.setBusyPoll(2000);
  const warmsBeforeWindow = warms;
  await pause(50); // the 2 ms window closes
  const settled = device.stats().busyPasses;
  await pause(100);
  const idleAfterWindow = device.stats().busyPasses - settled;
  device.send(arpRequestToHost());
  const adaptiveReply = await waitFor(() => replies >= 2, 3000);
  await pause(50);
  const afterFrame = device.stats().busyPasses - settled;

  device.setBusyPoll(0);
  await pause(20);
  const off = device.stats().busyPasses;
  device.send(arpRequestToHost());
  const offReply = await waitFor(() => replies >= 3, 3000);
  const offPasses = device.stats().busyPasses - off;
  const warmsOutsideAlways = warms - warmsBeforeWindow;

  device.setBusyPoll('always');
  const stats = device.stats();
  device.close(); // while spinning: the process must still exit by itself
  report({ badValue, alwaysMode, alwaysPasses, alwaysWarms, alwaysReply, idleAfterWindow, adaptiveReply, afterFrame, offReply, offPasses, warmsOutsideAlways, stats });
}

async function childMain(namespace: string): Promise<void> {
  // Refuse to touch interfaces anywhere but in the namespace the parent created.
  const identity = await run('ip', ['netns', 'identify', String(process.pid)]);
  if (identity.stdout.trim() !== namespace) {
    process.stderr.write(`refusing to run: not inside network namespace ${namespace}\n`);
    process.exitCode = 3;
    return;
  }
  const scenario = process.env['PSTACK_TAP_SCENARIO'] as Scenario;
  if (scenario === 'traffic') await childTraffic();
  else if (scenario === 'close-without-start') await childCloseWithoutStart();
  else if (scenario === 'unref') await childUnref();
  else if (scenario === 'interface-deleted') await childInterfaceDeleted();
  else if (scenario === 'native-callback-throws') await childNativeCallbackThrows();
  else if (scenario === 'busy-poll') await childBusyPoll();
  else throw new Error(`unknown scenario ${scenario}`);
}

// ---------------------------------------------------------------------------- parent side

interface ChildOutcome {
  /** Exit code, or null when the child had to be killed. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  result: Record<string, any> | null;
}

function runChild(namespace: string, scenario: Scenario, timeoutMs = 20_000): Promise<ChildOutcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, PSTACK_TAP_CHILD: namespace, PSTACK_TAP_SCENARIO: scenario };
  // The child is a plain script, not a test file reporting to this runner.
  delete env['NODE_TEST_CONTEXT'];
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      resolve({
        exitCode: killed ? null : code,
        stdout,
        stderr,
        result: line ? JSON.parse(line.slice(RESULT_PREFIX.length)) : null,
      });
    });
  });
}

function assertExitedCleanly(outcome: ChildOutcome): void {
  assert.notEqual(
    outcome.exitCode,
    null,
    `the child did not exit by itself: something kept its event loop alive\n${outcome.stderr}`,
  );
  assert.equal(outcome.exitCode, 0, `child failed:\n${outcome.stderr}\n${outcome.stdout}`);
  assert.ok(outcome.result, `child printed no result:\n${outcome.stdout}\n${outcome.stderr}`);
}

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'TAP devices are Linux-only';
  if (process.getuid?.() !== 0) return 'needs root: creates a network namespace and a tap device';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (tun module not loaded?)';
  return false;
}

if (process.env['PSTACK_TAP_CHILD']) {
  await childMain(process.env['PSTACK_TAP_CHILD']);
} else {
  // Skipped test by test (not the suite) so the runner reports each one as skipped.
  const skip = skipReason();
  describe('TapDevice in a private network namespace', () => {
    const namespace = `pstk-tap-${process.pid}-${randomBytes(3).toString('hex')}`;

    before(async () => {
      if (skip) return;
      assert.ok(tapAddonAvailable(), 'native addon not built: run npm install');
      const added = await run('ip', ['netns', 'add', namespace]);
      assert.equal(added.code, 0, `ip netns add ${namespace}: ${added.stderr}`);
    });

    after(async () => {
      if (skip) return;
      await run('ip', ['netns', 'del', namespace]);
    });

    test('receives the frames the kernel sends, sends frames, survives a throwing receiver, and lets the process exit after close', { skip }, async () => {
      const outcome = await runChild(namespace, 'traffic');
      assertExitedCleanly(outcome);
      const r = outcome.result!;
      assert.equal(r['complete'], true, `did not see the expected ARP traffic: ${outcome.stdout}`);
      assert.equal(r['name'], TAP_NAME);
      assert.equal(r['busy'].code, 'EBUSY');
      assert.match(r['busy'].message, /cannot attach to tap device 'tapt0'.*busy/i);
      assert.equal(r['tooLong'].code, 'EINVAL');
      assert.ok(r['arpRequestsForAbsent'] >= 1, 'the kernel ARPs for 192.0.2.2 on the tap');
      assert.ok(r['arpRepliesToUs'] >= 3, 'the kernel answered our three ARP requests');
      assert.equal(r['receiveErrors'], 1);
      assert.equal(r['errors'].length, 1);
      assert.match(r['errors'][0], /receiver failure on purpose/);
      assert.ok(r['batches'] >= 1 && r['batches'] <= r['framesSeen']);
      assert.equal(r['counters'].framesOut, 3);
      assert.equal(r['counters'].bytesOut, 3 * 42);
      assert.equal(r['counters'].sendErrors, 1, 'the one frame sent while the link was down');
      assert.equal(r['sendErrnoWhileDown'], 5, 'EIO');
      assert.equal(r['counters'].framesIn, r['framesSeen']);
      assert.equal(r['stats'].framesRead, r['framesSeen']);
      assert.equal(r['stats'].callbackErrors, 0);
      assert.equal(r['sendErrorsAfterClose'], 2);
      assert.equal(r['existsAfterClose'], false, 'a non-persistent tap disappears with its fd');
    });

    test('a device closed before or right after starting does not hold the process', { skip }, async () => {
      assertExitedCleanly(await runChild(namespace, 'close-without-start'));
    });

    test('unref() lets the process exit with the device still open', { skip }, async () => {
      assertExitedCleanly(await runChild(namespace, 'unref'));
    });

    test('deleting the interface under an open device stops reception with an error, no spin, no crash', { skip }, async () => {
      const outcome = await runChild(namespace, 'interface-deleted');
      assertExitedCleanly(outcome);
      const r = outcome.result!;
      assert.equal(r['deleted'], 0);
      assert.equal(r['failed'], true);
      assert.equal(r['errors'].length, 1);
      assert.match(r['errors'][0].code, /^EBADFD?$/);
      assert.match(r['errors'][0].message, /tapt0.*receiving stopped/);
      assert.equal(r['wakeupsLater'], r['wakeupsAtFailure']);
      assert.equal(r['sendErrors'], 1);
    });

    test('the addon catches exceptions from its callbacks instead of crashing the process', { skip }, async () => {
      const outcome = await runChild(namespace, 'native-callback-throws');
      assertExitedCleanly(outcome);
      const r = outcome.result!;
      assert.equal(r['complete'], true);
      assert.ok(r['batches'] >= 2);
      assert.match(r['reported'][0], /batch callback threw/);
      assert.match(r['reported'][1], /batch callback threw/);
      assert.equal(r['stats'].callbackErrors, 1, 'the exception thrown by the error callback is counted');
    });

    test('busy polling: always polls, an adaptive window polls only after a frame, off polls never, and a busy device closes', { skip }, async () => {
      const outcome = await runChild(namespace, 'busy-poll');
      assertExitedCleanly(outcome);
      const r = outcome.result!;
      assert.equal(r['badValue'].message.includes('busyPoll'), true, JSON.stringify(r['badValue']));
      assert.equal(r['alwaysMode'], 'always');
      assert.ok(r['alwaysPasses'] > 10, `always mode polls with no traffic (${r['alwaysPasses']} passes in 100 ms)`);
      // About one warm call per 200 us of polling that found nothing; a loaded machine gets fewer.
      assert.ok(r['alwaysWarms'] >= 10 && r['alwaysWarms'] <= 1000, `always mode keeps the receiver warm (${r['alwaysWarms']} calls in 100 ms)`);
      assert.equal(r['stats'].warmCalls >= r['alwaysWarms'], true);
      assert.equal(r['warmsOutsideAlways'], 0, 'no warm calls with a window or without polling');
      assert.equal(r['alwaysReply'], true);
      assert.equal(r['idleAfterWindow'], 0, 'no polling once the window has passed without frames');
      assert.equal(r['adaptiveReply'], true);
      assert.ok(r['afterFrame'] > 0, 'a frame opens the window');
      assert.equal(r['offReply'], true);
      assert.equal(r['offPasses'], 0);
      assert.equal(r['stats'].framesRead >= 3, true);
      assert.ok(r['stats'].busyMs > 0);
    });

    test('host-link helpers reject bad input before running ip', async () => {
      await assert.rejects(linkUp('-rf'), RangeError);
      await assert.rejects(addAddress(TAP_NAME, '192.0.2.1'), RangeError);
      await assert.rejects(addAddress(TAP_NAME, '192.0.2.300/24'), RangeError);
    });
  });
}

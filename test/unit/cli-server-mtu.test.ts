// `pstack server --mtu`: one value for every tap, or one per --tap in order (a router's links differ).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServerArgs, type ServerConfig } from '../../src/cli/server.js';
import { UsageError } from '../../src/cli/errors.js';

const two = ['--tap', 'tapa', '--addr', '192.0.2.2/24', '--tap', 'tapb', '--addr', '198.51.100.2/24'];
const config = (argv: string[]) => parseServerArgs(argv) as ServerConfig;

test('--mtu once applies to every tap; once per --tap gives each its own', () => {
  const one = config([...two, '--mtu', '1400']);
  assert.equal(one.mtu, 1400);
  assert.deepEqual(one.taps.map((t) => t.mtu), [undefined, undefined]);
  const each = config([...two, '--mtu', '1500', '--mtu', '1280']);
  assert.deepEqual(each.taps.map((t) => t.mtu), [1500, 1280]);
  assert.equal(config(two).mtu, 1500);
});

test('--mtu counts other than one or one per tap, and bad values, are usage errors', () => {
  assert.throws(() => parseServerArgs(['--tap', 'a', '--addr', '192.0.2.2/24', '--tap', 'b', '--addr', '198.51.100.2/24', '--tap', 'c', '--addr', '203.0.113.2/24', '--mtu', '1500', '--mtu', '1400']),
    (e: unknown) => e instanceof UsageError && /one --mtu for all taps or one for each --tap \(3 taps, 2 MTUs\)/.test(e.message));
  assert.throws(() => parseServerArgs([...two, '--mtu', '1500', '--mtu', '500']), (e: unknown) => e instanceof UsageError && /invalid --mtu "500"/.test(e.message));
});

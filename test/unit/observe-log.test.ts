// The logger: level filtering, the old pstack's line layout (checked against the seed 001
// log's own lines), and the event and banner blocks the stack logs at start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createLogger, createRecordingLogger, formatLogEntry, logBlocks, parseLogLevel, silentLogger,
  LOG_PREFIX_WIDTH, type LogLevel,
} from '../../src/observe/log.js';
import {
  formatBanner, formatDeviceOpened, formatDeviceRegistered, formatInterfaceAttached, formatRouteRegistered,
} from '../../src/observe/events.js';
import { parseIpv4, parseMac } from '../../src/wire/addr.js';

/** Collects what the logger writes, and how many writes it took. */
function fakeStream() {
  const chunks: string[] = [];
  return { chunks, write(chunk: string) { chunks.push(chunk); return true; }, text: () => chunks.join('') };
}

// A local-time instant, so the expected "12:50:40.548" holds in any time zone.
const AT_12_50_40_548 = new Date(2021, 5, 23, 12, 50, 40, 548).getTime();
const fixedClock = () => AT_12_50_40_548;

test('an entry is "HH:MM:SS.mmm [L] title" with detail lines indented 17 columns, in one write', () => {
  const out = fakeStream();
  const log = createLogger({ level: 'debug', stream: out, clock: fixedClock });
  log.debug('incoming tcp segment', 'src port: 56988', 'dst port: 12345');
  assert.equal(out.chunks.length, 1);
  assert.equal(
    out.text(),
    '12:50:40.548 [D] incoming tcp segment\n' +
    '                 src port: 56988\n' +
    '                 dst port: 12345\n',
  );
  assert.equal(LOG_PREFIX_WIDTH, 17);
});

test('level letters are E, W, I, D and T', () => {
  const out = fakeStream();
  const log = createLogger({ level: 'trace', stream: out, clock: fixedClock });
  log.error('e'); log.warn('w'); log.info('i'); log.debug('d'); log.trace('t');
  assert.deepEqual(out.chunks.map((c) => c.slice(13, 16)), ['[E]', '[W]', '[I]', '[D]', '[T]']);
});

test('entries below the threshold are neither written nor enabled', () => {
  const levels: LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];
  for (const threshold of levels) {
    const out = fakeStream();
    const log = createLogger({ level: threshold, stream: out, clock: fixedClock });
    for (const level of levels) log.log(level, level);
    const allowed = levels.slice(0, levels.indexOf(threshold) + 1);
    assert.deepEqual(out.chunks.map((c) => c.slice(17).trim()), allowed, `threshold ${threshold}`);
    assert.deepEqual(levels.filter((l) => log.enabled(l)), allowed);
  }
});

test('the default level is info, and assigning level takes effect at once', () => {
  const out = fakeStream();
  const log = createLogger({ stream: out, clock: fixedClock });
  assert.equal(log.level, 'info');
  assert.equal(log.enabled('debug'), false);
  log.debug('hidden');
  log.level = 'debug';
  assert.equal(log.enabled('debug'), true);
  log.debug('shown');
  log.level = 'silent';
  log.error('hidden too');
  assert.equal(log.enabled('error'), false);
  assert.deepEqual(out.chunks.map((c) => c.slice(17).trim()), ['shown']);
});

test('a multi-line title or detail keeps every physical line under the title column', () => {
  const entry = formatLogEntry('12:50:40.548', 'info', 'first\nsecond', ['a\nb']);
  assert.equal(entry, '12:50:40.548 [I] first\n                 second\n                 a\n                 b\n');
});

test('colour wraps only the level tag, and is off for a stream that is not a TTY', () => {
  const plain = fakeStream();
  createLogger({ level: 'info', stream: plain, clock: fixedClock }).warn('x');
  assert.equal(plain.text(), '12:50:40.548 [W] x\n');
  const colored = fakeStream();
  createLogger({ level: 'info', stream: colored, clock: fixedClock, color: true }).warn('x');
  assert.equal(colored.text(), '12:50:40.548 \x1b[33m[W]\x1b[0m x\n');
});

test('parseLogLevel accepts the levels in any case, a few aliases, and nothing else', () => {
  assert.equal(parseLogLevel('debug'), 'debug');
  assert.equal(parseLogLevel(' DEBUG '), 'debug');
  assert.equal(parseLogLevel('Warning'), 'warn');
  assert.equal(parseLogLevel('error'), 'error');
  assert.equal(parseLogLevel('info'), 'info');
  assert.equal(parseLogLevel('trace'), 'trace');
  assert.equal(parseLogLevel('off'), 'silent');
  assert.equal(parseLogLevel('silent'), 'silent');
  assert.equal(parseLogLevel('verbose'), null);
  assert.equal(parseLogLevel(''), null);
  assert.equal(parseLogLevel('3'), null);
});

test('silentLogger reports nothing enabled, accepts every call, and cannot be switched on', () => {
  for (const level of ['error', 'warn', 'info', 'debug', 'trace'] as const) assert.equal(silentLogger.enabled(level), false);
  silentLogger.error('nothing', 'at all');
  silentLogger.debug('nothing');
  silentLogger.level = 'debug';
  assert.equal(silentLogger.level, 'silent');
  assert.equal(silentLogger.enabled('debug'), false);
});

test('the recording logger keeps entries at or above its threshold', () => {
  const log = createRecordingLogger('info');
  log.info('connection accepted', 'Host: 192.0.2.1', 'Port: 56988');
  log.debug('not kept');
  assert.deepEqual(log.records, [{ level: 'info', title: 'connection accepted', lines: ['Host: 192.0.2.1', 'Port: 56988'] }]);
});

test('logBlocks writes one entry per block, and nothing (not even a call) when disabled', () => {
  const out = fakeStream();
  const log = createLogger({ level: 'info', stream: out, clock: fixedClock });
  const blocks = [{ title: 'one', lines: ['a'] }, { title: 'two', lines: [] }];
  logBlocks(log, 'debug', blocks);
  assert.equal(out.chunks.length, 0);
  logBlocks(log, 'info', blocks);
  assert.deepEqual(out.chunks, ['12:50:40.548 [I] one\n                 a\n', '12:50:40.548 [I] two\n']);
});

// The start-up of seed 001 (the old pstack's "3 Way Handshake" log), verbatim.
const SEED001_STARTUP = `12:50:30.777 [D] -------------------------------------------------------
                           I N I T I A L I Z E   D E V I C E S
                 -------------------------------------------------------
12:50:30.777 [D] device was registered
                 type: Loopback
                 name: net0 ()
                 addr: 00:00:00:00:00:00
12:50:30.777 [D] interface was attached
                 ip:     127.0.0.1
                 device: net0 ()
12:50:30.777 [D] route was registered
                 network:  127.0.0.0
                 netmask:  255.0.0.0
                 unicast:  127.0.0.1
                 next hop: 0.0.0.0
                 device:   net0 ()
12:50:30.777 [D] device was registered
                 type: Ethernet
                 name: net1 (tap0)
                 addr: 00:00:5e:00:53:01
12:50:30.777 [D] interface was attached
                 ip:     192.0.2.2
                 device: net1 (tap0)
12:50:30.777 [D] route was registered
                 network:  192.0.0.0
                 netmask:  255.255.255.0
                 unicast:  192.0.2.2
                 next hop: 0.0.0.0
                 device:   net1 (tap0)
12:50:30.777 [D] default gateway was registered
                 network:  0.0.0.0
                 netmask:  0.0.0.0
                 unicast:  192.0.2.2
                 next hop: 192.0.2.1
                 device:   net1 (tap0)
12:50:30.777 [D] -------------------------------------------------------
                               S T A R T   S E R V I C E S
                 -------------------------------------------------------
12:50:30.778 [D] device was opened
                 type: Loopback
                 name: net0 ()
12:50:30.778 [D] device was opened
                 type: Ethernet
                 name: net1 (tap0)
12:50:30.878 [D] ///////////////////////////////////////////////////////
                          A P P L I C A T I O N   S T A R T E D
                 ///////////////////////////////////////////////////////
`;

test('the event and banner blocks reproduce the old pstack start-up log line for line', () => {
  let now = new Date(2021, 5, 23, 12, 50, 30, 777).getTime();
  const out = fakeStream();
  const log = createLogger({ level: 'debug', stream: out, clock: () => now });
  const loopback = { type: 'loopback', name: 'net0', hostName: '', mac: new Uint8Array(6) };
  const tap = { type: 'ethernet', name: 'net1', hostName: 'tap0', mac: parseMac('00:00:5e:00:53:01')! };
  logBlocks(log, 'debug', [
    formatBanner('initialize devices'),
    formatDeviceRegistered(loopback),
    formatInterfaceAttached({ unicast: parseIpv4('127.0.0.1')!, device: loopback }),
    formatRouteRegistered({ network: '127.0.0.0', netmask: '255.0.0.0', unicast: '127.0.0.1', nextHop: 0, device: loopback }),
    formatDeviceRegistered(tap),
    formatInterfaceAttached({ unicast: '192.0.2.2', device: 'net1 (tap0)' }),
    formatRouteRegistered({
      network: parseIpv4('192.0.0.0')!, netmask: parseIpv4('255.255.255.0')!, unicast: parseIpv4('192.0.2.2')!,
      nextHop: 0, device: tap,
    }),
    formatRouteRegistered({ network: 0, netmask: 0, unicast: '192.0.2.2', nextHop: '192.0.2.1', device: tap }),
    formatBanner('START SERVICES'),
  ]);
  now += 1;
  logBlocks(log, 'debug', [formatDeviceOpened(loopback), formatDeviceOpened(tap)]);
  now += 100;
  logBlocks(log, 'debug', [formatBanner('application started', '/')]);
  assert.equal(out.text(), SEED001_STARTUP);
});

// nmap against pstack and against Linux (issue 6: hostile traffic from real tools, answers
// compared with the kernel's): the same scans of the same ports, the Linux host listening on
// the TCP ports pstack serves (discard 9, chargen 19, echo 12345). SYN, FIN, NULL, Xmas, ACK
// and window scans, and a UDP scan of closed ports, must find the same states on both, and
// pstack must still answer ping and TCP afterwards with no internal error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { e2eUnavailable, Netns, startPstack, CLI, type ServerHandle } from './harness.js';

function nmapUnavailable(): string | null {
  const base = e2eUnavailable();
  if (base !== null) return base;
  if (spawnSync('sh', ['-c', 'command -v nmap']).status === 0) return null;
  if (process.env['CI']) throw new Error('the nmap test needs nmap (scripts/install-deps.sh installs it)');
  return 'nmap is not installed';
}

const skip = nmapUnavailable();
const TCP_PORTS = '1-1024,12345';
const LINUX_LISTENER = `
import socket, time
socks = []
for port in (9, 19, 12345):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('198.51.100.2', port)); s.listen(64); socks.append(s)
print('listening', flush=True)
time.sleep(120)
`;

let dir: string;
let ns: Netns; // nmap runs here; pstack's tap0 and the veth to the Linux host end here
let nsLinux: Netns;
let server: ServerHandle;
let listener: ReturnType<Netns['spawn']> | undefined;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-nmap-'));
  [ns, nsLinux] = await Promise.all([Netns.create('nmap'), Netns.create('nmaplx')]);
  server = await startPstack(ns, ['server', '--control', join(dir, 'ctl.sock')]);
  await ns.must('ip', ['link', 'add', 'vnmap0', 'type', 'veth', 'peer', 'name', 'vnmap1', 'netns', nsLinux.name]);
  await ns.must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vnmap0']);
  await ns.must('ip', ['link', 'set', 'vnmap0', 'up']);
  await nsLinux.must('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'vnmap1']);
  await nsLinux.must('ip', ['link', 'set', 'vnmap1', 'up']);
  listener = nsLinux.spawn('/usr/bin/python3', ['-c', LINUX_LISTENER]);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('Linux listener did not start')), 10_000);
    listener!.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('listening')) { clearTimeout(t); resolve(); } });
  });
  // Both neighbours resolved before scanning, so no scan races ARP.
  await ns.must('ping', ['-c', '1', '-W', '2', '192.0.2.2']);
  await ns.must('ping', ['-c', '1', '-W', '2', '198.51.100.2']);
});

after(async () => {
  if (skip) return;
  listener?.kill('SIGKILL');
  const code = await server?.stop();
  await Promise.all([ns?.destroy(), nsLinux?.destroy()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'pstack server exits cleanly');

});

/** Port -> state from nmap's greppable output; ports it summarises as "ignored" get `rest`. */
async function scan(target: string, args: string[]): Promise<{ states: Map<string, string>; rest: string }> {
  const r = await ns.must('nmap', ['-n', '-Pn', '--max-retries', '2', '--host-timeout', '60s', ...args, '-oG', '-', target], { timeoutMs: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.includes('Ports:')) ?? '';
  const states = new Map<string, string>();
  for (const entry of line.replace(/.*Ports: /, '').split('\t')[0]!.split(', ')) {
    const [port, state, proto] = entry.trim().split('/');
    if (port && state && proto) states.set(`${port}/${proto}`, state);
  }
  const rest = line.match(/Ignored State: ([\w|]+)/)?.[1] ?? '';
  return { states, rest };
}

const scans: [string, string[]][] = [
  ['SYN scan', ['-sS', '-p', TCP_PORTS]],
  ['FIN scan', ['-sF', '-p', TCP_PORTS]],
  ['NULL scan', ['-sN', '-p', TCP_PORTS]],
  ['Xmas scan', ['-sX', '-p', TCP_PORTS]],
  ['ACK scan', ['-sA', '-p', TCP_PORTS]],
  ['window scan', ['-sW', '-p', TCP_PORTS]],
  // Four ports: Linux limits ICMP errors per destination to a burst of 6, then 1/s (icmp_ratelimit),
  // so a longer list would show its limit (open|filtered), not the ports' state.
  ['UDP scan of closed ports', ['-sU', '-p', '10,53,161,5000']],
];

for (const [name, args] of scans) {
  test(`nmap ${name}: pstack's port states match Linux's`, { skip: skip ?? false }, async () => {
    const linux = await scan('198.51.100.2', args);
    const pstack = await scan('192.0.2.2', args);
    assert.ok(linux.states.size > 0 || linux.rest !== '', `nmap found port states on Linux: ${JSON.stringify(linux)}`);
    if (name === 'SYN scan') {
      // The comparison means something only if the scans saw the services and the closed ports.
      assert.deepEqual([...linux.states].filter(([, st]) => st === 'open').map(([p]) => p).sort(), ['12345/tcp', '19/tcp', '9/tcp']);
      assert.equal(linux.rest, 'closed');
    }
    if (name.startsWith('UDP')) assert.ok([...linux.states].every(([, st]) => st === 'closed'), JSON.stringify([...linux.states]));
    assert.deepEqual([...pstack.states].sort(), [...linux.states].sort(), `${name}: listed ports`);
    assert.equal(pstack.rest, linux.rest, `${name}: the state of all the other ports`);
  });
}

test('after the scans pstack still answers ping and TCP, with no internal error', { skip: skip ?? false }, async () => {
  await ns.must('ping', ['-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
  const r = await ns.exec('nc', ['-N', '-w', '5', '192.0.2.2', '12345'], { input: 'still here\n', timeoutMs: 15_000 });
  assert.equal(r.stdout, 'still here\n');
  const stats = await ns.must(process.execPath, [CLI, 'stats', '--json', '--control', join(dir, 'ctl.sock')]);
  assert.equal(JSON.parse(stats.stdout).counters.internalErrors, 0);
});

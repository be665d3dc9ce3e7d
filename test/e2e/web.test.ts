// `pstack server --web`: the live page in a real headless Chromium, while the kernel on the
// other side of the TAP pings pstack. Chromium runs inside the test's namespace (through a
// wrapper around `ip netns exec`), where the page is served on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { e2eUnavailable, Netns, startPstack, run, CLI, type ServerHandle } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = e2eUnavailable() ?? (existsSync(CHROMIUM) ? null : 'chromium is not installed (scripts/install-deps.sh)');
if (skip !== null && skip.startsWith('chromium') && process.env['CI']) throw new Error(skip);

const PORT = 8080; // inside the test's own namespace
const URL_ = `http://127.0.0.1:${PORT}/`;
let ns: Netns;
let server: ServerHandle;
let dir: string;
let browser: Browser;
let page: Page;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pstack-web-'));
  ns = await Netns.create('web');
  server = await startPstack(ns, ['server', '--control', 'none', '--web', `127.0.0.1:${PORT}`]);
  const wrapper = join(dir, 'chromium-in-ns.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  browser = await chromium.launch({ executablePath: wrapper, args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
});

after(async () => {
  if (skip) return;
  await browser?.close().catch(() => {});
  await server?.stop();
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rowCount = () => page.locator('#rows .row').count();

test('the log names the page, and the page loads and connects', { skip: skip ?? false }, async () => {
  assert.match(server.log, new RegExp(`web page: +${URL_.replace(/\./g, '\\.')}`));
  await page.goto(URL_);
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('packets'), null, { timeout: 15_000 });
  assert.match(await page.textContent('#interfaces') ?? '', /tap0 192\.0\.2\.2\/24/);
});

test('a ping from the kernel shows ARP and ICMP rows and arrows between the two hosts', { skip: skip ?? false }, async () => {
  const r = await ns.exec('ping', ['-c', '2', '-i', '0.3', '-W', '2', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await page.waitForSelector('#rows .row[data-proto="arp"]', { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelectorAll('#rows .row[data-proto="icmp"]').length >= 4, null, { timeout: 10_000 });
  const summaries = await page.locator('#rows .row .summary').allTextContents();
  assert.ok(summaries.some((s) => /ARP, Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1/.test(s)), summaries.join('\n'));
  assert.ok(summaries.some((s) => /192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request/.test(s)), summaries.join('\n'));
  assert.ok(summaries.some((s) => /192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo reply/.test(s)), summaries.join('\n'));
  // A lifeline per host, named by address (the kernel's IPv6 neighbor discovery adds its own);
  // every ICMP row draws an arrow.
  const lifelines = await page.locator('#ladder-head text').evaluateAll((els) => els.map((e) => (e as SVGElement).dataset['host']));
  assert.ok(lifelines.includes('192.0.2.1') && lifelines.includes('192.0.2.2'), lifelines.join(', '));
  assert.ok(await page.locator('#rows .row[data-proto="icmp"] line.arrow').count() >= 4);
});

test('clicking the echo request shows its layers field by field; a field lights up its bytes', { skip: skip ?? false }, async () => {
  await page.locator('#rows .row[data-proto="icmp"]', { hasText: 'echo request' }).first().click();
  await page.waitForSelector('#layers .layer', { timeout: 10_000 });
  const titles = await page.locator('#layers .layer > summary').allTextContents();
  assert.deepEqual(titles, ['incoming ethernet frame (98 bytes)', 'incoming ip packet', 'incoming icmp packet']);
  const field = (layer: number, name: string) => page.locator('#layers .layer').nth(layer).locator(`.field[data-name="${name}"]`);
  assert.equal(await field(1, 'source address').locator('.value').textContent(), '192.0.2.1');
  assert.equal(await field(1, 'protocol').locator('.value').textContent(), 'ICMP (1)');
  assert.match(await field(1, 'checksum').locator('.value').textContent() ?? '', /^0x[0-9a-f]{4} \(ok\)$/);
  assert.match(await field(2, 'type').locator('.value').textContent() ?? '', /\(8\)$/);
  assert.match(await field(2, 'checksum').locator('.value').textContent() ?? '', /\(ok\)$/);
  assert.equal(await page.locator('#hex .byte').count(), 98);
  // The row clicked is the one marked selected, and the one whose detail is shown.
  const selectedId = await page.locator('#rows .row.selected').getAttribute('data-id');
  assert.match(await page.locator('#layers > p').textContent() ?? '', new RegExp(`^No\\. ${selectedId}, received on tap0, 98 bytes`));

  await field(2, 'type').click();
  assert.deepEqual(await page.locator('#hex .byte.hl').allTextContents(), ['08']);
  await field(1, 'source address').click();
  assert.deepEqual(await page.locator('#hex .byte.hl').allTextContents(), ['c0', '00', '02', '01']);
  // And back: clicking a byte selects the field that holds it (the destination address's last byte).
  await page.locator('#hex .byte[data-i="33"]').click();
  assert.equal(await page.locator('#layers .field.selected').getAttribute('data-name'), 'destination address');
  assert.equal((await page.locator('#hex .byte.hl').allTextContents()).join(''), 'c0000202');

  // The reply's dissection says type 0.
  await page.locator('#rows .row[data-proto="icmp"]', { hasText: 'echo reply' }).first().click();
  await page.waitForFunction(() => document.querySelector('#layers .layer:nth-of-type(3) .field[data-name="type"] .value')?.textContent?.endsWith('(0)'), null, { timeout: 10_000 });
});

test('the filters hide what does not match', { skip: skip ?? false }, async () => {
  await page.selectOption('#proto', 'arp');
  const visible = () => page.locator('#rows .row:not([hidden])').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['proto']));
  const arpOnly = await visible();
  assert.ok(arpOnly.length >= 1 && arpOnly.every((p) => p === 'arp'), arpOnly.join(','));
  assert.equal(await page.locator('#rows .row[data-proto="icmp"]').first().isVisible(), false);
  await page.selectOption('#proto', '');
  await page.fill('#text', 'echo reply');
  const replies = await page.locator('#rows .row:not([hidden]) .summary').allTextContents();
  assert.ok(replies.length >= 2 && replies.every((s) => s.includes('echo reply')), replies.join('\n'));
  await page.fill('#text', '');
});

test('a tcpdump filter expression is applied by the server; a bad one says why', { skip: skip ?? false }, async () => {
  await page.fill('#expr', 'port banana');
  await page.press('#expr', 'Enter');
  await page.waitForFunction(() => document.getElementById('expr-error')!.textContent !== '', null, { timeout: 10_000 });
  assert.ok((await rowCount()) >= 8, 'a bad expression leaves the table as it was');
  await page.fill('#expr', 'arp or (icmp and src host 192.0.2.2)');
  await page.press('#expr', 'Enter');
  await page.waitForFunction(() => document.getElementById('expr-error')!.textContent === '' && document.querySelectorAll('#rows .row').length > 0
    && document.querySelectorAll('#rows .row[data-proto="icmp"]').length === 2, null, { timeout: 10_000 });
  const summaries = await page.locator('#rows .row .summary').allTextContents();
  assert.ok(summaries.every((t) => t.startsWith('ARP') || t.startsWith('192.0.2.2 > 192.0.2.1: ICMP echo reply')), summaries.join('\n'));
  await page.fill('#expr', '');
  await page.press('#expr', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#rows .row[data-proto="icmp"]').length === 4, null, { timeout: 10_000 });
});

test('pause stops new rows; resume shows what came meanwhile', { skip: skip ?? false }, async () => {
  await page.click('#pause');
  const before = await rowCount();
  const r = await ns.exec('ping', ['-c', '2', '-i', '0.3', '-W', '2', '192.0.2.2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await page.waitForFunction(() => /paused \([1-9]\d* new\)/.test(document.getElementById('status')!.textContent!), null, { timeout: 10_000 });
  assert.equal(await rowCount(), before);
  await page.click('#pause');
  await page.waitForFunction((n) => document.querySelectorAll('#rows .row').length >= n + 4, before, { timeout: 10_000 });
});

test('the TCP table shows a connection to the echo service with its state, cwnd, rtt and rto', { skip: skip ?? false }, async () => {
  // A connection to pstack's TCP echo service (port 12345) held open while the page polls.
  const nc = ns.spawn('sh', ['-c', 'sleep 4 | nc 192.0.2.2 12345']);
  try {
    const row = page.locator('#tcp-table tbody tr', { hasText: '192.0.2.2:12345' });
    await row.first().waitFor({ timeout: 10_000 });
    const cells = await row.first().locator('td').allTextContents();
    assert.equal(cells[2], 'ESTABLISHED');
    assert.ok(Number(cells[3]) >= 1, `cwnd ${cells[3]}`);
    assert.ok(Number(cells[6]) >= 200, `rto ${cells[6]}`);
    if (process.env['PSTACK_WEB_SCREENSHOT']) {
      await page.locator('#rows .row[data-proto="icmp"]', { hasText: 'echo request' }).first().click();
      await page.waitForSelector('#layers .layer');
      await page.locator('#layers .layer').nth(2).locator('.field[data-name="checksum"]').click();
      await page.screenshot({ path: process.env['PSTACK_WEB_SCREENSHOT'] });
    }
  } finally {
    nc.kill('SIGTERM');
  }
});

test('the pcapng download opens in tshark with every ICMP packet', { skip: skip ?? false }, async () => {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('#download')]);
  const file = join(dir, 'page.pcapng');
  await download.saveAs(file);
  assert.equal(readFileSync(file).readUInt32LE(0), 0x0a0d0d0a);
  const r = await run('tshark', ['-r', file, '-Y', 'icmp', '-T', 'fields', '-e', 'icmp.type']);
  assert.equal(r.code, 0, r.stderr);
  const types = r.stdout.trim().split('\n');
  assert.equal(types.filter((t) => t === '8').length, 4, r.stdout);
  assert.equal(types.filter((t) => t === '0').length, 4, r.stdout);
});

test('a bad --web value and a port in use each give one clear line and a non-zero exit', { skip: skip ?? false }, async () => {
  const bad = await run(process.execPath, [CLI, 'server', '--web', 'localhost'], { timeoutMs: 15_000 });
  assert.equal(bad.code, 2);
  // The one line, then the usage hint every usage error ends with.
  assert.match(bad.stderr, /^pstack: invalid --web "localhost": expected HOST:PORT, like 127\.0\.0\.1:8080 or \[::1\]:8080\nrun "pstack server --help" for usage\n$/);
  const badHost = await run(process.execPath, [CLI, 'server', '--web', 'example.com:80'], { timeoutMs: 15_000 });
  assert.equal(badHost.code, 2);
  assert.match(badHost.stderr, /the host must be an IP address or localhost/);
  // A second server in the same namespace, on another tap, asking for the same port.
  const second = await ns.exec(process.execPath, [CLI, 'server', '--tap', 'tap1', '--addr', '198.51.100.2/24', '--control', 'none', '--web', `127.0.0.1:${PORT}`], { timeoutMs: 30_000 });
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stderr, new RegExp(`cannot serve the web page on 127\\.0\\.0\\.1:${PORT}: the address is already in use`));
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
});

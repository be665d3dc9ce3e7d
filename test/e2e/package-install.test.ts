/**
 * Installing pstack like a real package: `npm pack`, then `npm install <tarball>` into an
 * empty project on a PATH with no C compiler, then a script there that imports 'pstack' (and
 * its subpath exports) and opens a TAP device inside a network namespace made for the test.
 *
 * What it guards: the tarball carries the compiled JavaScript, its type declarations and the
 * prebuilt addon (prebuilds/linux-x64/*.node, made by the prepack script), and not the tests
 * or benchmarks; the install script (node-gyp-build) finds the prebuild instead of compiling,
 * so the install works without cc/make; and the installed package loads that prebuild. Without
 * the prebuild the install would try to compile and fail, and the script could not open a TAP.
 *
 * `npm pack` runs in a temporary copy of the package's sources (with the checkout's
 * node_modules linked in) rather than in the checkout: its prepare (tsc) and prepack (the
 * addon prebuild) scripts would otherwise rewrite dist/ and prebuilds/ under tests running
 * side by side. Only npm's registry or its cache is reached (node-gyp-build); nodedir points
 * at the local Node headers so nothing is downloaded. Every child process has a timeout, and
 * the namespace is deleted afterwards, pass or fail.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TAP_NAME = 'pkgtap0';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const liveChildren = new Set<ChildProcess>();

/** Kills a child's whole process group (npm starts shells and node-gyp below it). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch { /* already gone */ }
}

/** Runs a command to completion in its own process group, killed whole after timeoutMs. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => killGroup(child), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

function describeFailure(what: string, r: Result): string {
  const tail = (s: string): string => s.trim().split('\n').slice(-25).join('\n');
  return `${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}

/** Why the TAP part cannot run here, or null. In CI a missing prerequisite is a failure. */
function tapUnavailable(): string | null {
  const missing: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root');
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
  if (missing.length === 0) return null;
  const why = `opening a TAP needs ${missing.join(', ')}`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

/** The Node prefix whose include/node has the headers node-gyp would build against. */
const NODE_PREFIX = dirname(dirname(process.execPath));

/** Which environment variables the no-compiler install keeps: where npm caches and how it reaches the registry. */
function installEnv(binDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: binDir,
    npm_config_nodedir: NODE_PREFIX,
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  for (const key of ['HOME', 'TMPDIR', 'LANG', 'npm_config_cache', 'npm_config_registry',
    'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Finds a program on the test's own PATH (to symlink it into the bare bin directory). */
function which(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', timeout: 5000 }).trim();
}

const tapSkip = tapUnavailable();

describe('pstack installed from its npm tarball', () => {
  const work = mkdtempSync(join(tmpdir(), 'pstack-pkg-'));
  const namespace = `pstk-pkg-${process.pid}-${randomBytes(3).toString('hex')}`;
  let namespaceMade = false;
  let tarball: string | null = null;
  let installed = false;
  const project = join(work, 'project');

  const deleteNamespace = (): void => {
    if (!namespaceMade) return;
    try { execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore', timeout: 5000 }); } catch { /* already gone */ }
    namespaceMade = false;
  };
  const onExit = (): void => {
    for (const c of liveChildren) killGroup(c);
    deleteNamespace();
  };

  before(() => {
    process.on('exit', onExit);
  });

  after(() => {
    for (const c of liveChildren) killGroup(c);
    deleteNamespace();
    process.off('exit', onExit);
    rmSync(work, { recursive: true, force: true });
  });

  test('npm pack ships compiled JS, type declarations, the addon source and the prebuilt addon, and no tests or benchmarks', async () => {
    // The package's sources, as npm pack would see them in the checkout.
    const stage = join(work, 'stage');
    mkdirSync(stage);
    for (const entry of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'binding.gyp', 'README.md', 'LICENSE', 'src', 'native', 'scripts']) {
      if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
    const packDir = join(work, 'pack');
    mkdirSync(packDir);

    const packed = await run('npm', ['pack', '--pack-destination', packDir], { cwd: stage, timeoutMs: 150_000 });
    assert.equal(packed.code, 0, describeFailure('npm pack', packed));
    const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    assert.equal(tarballs.length, 1, `one tarball expected in ${packDir}: ${tarballs.join(', ')}`);
    const path = join(packDir, tarballs[0]!);

    const listed = await run('tar', ['tzf', path], { timeoutMs: 20_000 });
    assert.equal(listed.code, 0, describeFailure('tar tzf', listed));
    const files = listed.stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/^package\//, ''));
    for (const needed of ['package.json', 'README.md', 'binding.gyp', 'native/tap.c', 'dist/src/index.js', 'dist/src/index.d.ts',
      'dist/src/api/net.js', 'dist/src/api/net.d.ts', 'dist/src/api/dgram.js', 'dist/src/wire/index.js', 'dist/src/link/tap.js', 'dist/src/cli/main.js']) {
      assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
    }
    const prebuilds = files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
    assert.ok(prebuilds.length >= 1, `no prebuilds/linux-x64/*.node in the tarball:\n${files.filter((f) => !f.startsWith('dist/')).join('\n')}`);
    const unwanted = files.filter((f) => /^(dist\/(test|bench|examples)\/|test\/|bench\/|src\/|build\/|scripts\/|node_modules\/)/.test(f) || f.endsWith('.map'));
    assert.deepEqual(unwanted, [], 'the tarball carries files a user does not need');
    tarball = path;
  });

  test('npm install of the tarball into an empty project needs no C compiler', async () => {
    assert.ok(tarball, 'no tarball (the pack test failed)');
    // A PATH with node, npm and a shell only: no cc, gcc, g++, make (nor python3 for node-gyp).
    const bin = join(work, 'bin');
    mkdirSync(bin);
    for (const tool of ['node', 'npm', 'npx', 'sh', 'bash']) symlinkSync(which(tool), join(bin, tool));
    const env = installEnv(bin);
    const probe = await run('sh', ['-c', 'for t in cc gcc g++ make c++ clang; do command -v "$t"; done; exit 0'], { env, timeoutMs: 10_000 });
    assert.equal(probe.code, 0, describeFailure('compiler probe', probe));
    assert.equal(probe.stdout.trim(), '', `a compiler is reachable on the install's PATH: ${probe.stdout.trim()}`);

    mkdirSync(project);
    // allowScripts: npm 11 skips a dependency's install script unless the project allows it
    // (older npm runs it anyway); allowing it checks the script finds the prebuild, not a compiler.
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({
      name: 'pstack-install-check', version: '1.0.0', private: true, type: 'module', allowScripts: { pstack: true },
    }, null, 2)}\n`);
    const install = await run('npm', ['install', '--prefer-offline', '--foreground-scripts', tarball], { cwd: project, env, timeoutMs: 90_000 });
    assert.equal(install.code, 0, describeFailure('npm install (no compiler on PATH)', install));

    const pkgDir = join(project, 'node_modules', 'pstack');
    assert.ok(existsSync(join(pkgDir, 'dist', 'src', 'index.js')), 'pstack not installed');
    assert.ok(existsSync(join(project, 'node_modules', 'node-gyp-build')), 'its dependency node-gyp-build was not installed');
    assert.ok(!existsSync(join(pkgDir, 'build')), 'the install built the addon from source instead of using the prebuild');
    installed = true;
  });

  test('the installed package imports (with its subpath exports) and opens a TAP in a fresh network namespace', { skip: tapSkip ?? false }, async () => {
    assert.ok(installed, 'pstack is not installed (an earlier test failed)');
    writeFileSync(join(project, 'check.mjs'), `
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TapDevice, Stack } from 'pstack';
import * as wire from 'pstack/wire';
const pkg = createRequire(import.meta.url)('pstack/package.json');
if (Object.keys(wire).length === 0) throw new Error('pstack/wire exports nothing');
if (typeof new Stack().net.connect !== 'function') throw new Error('stack.net has no connect');
// These open the default stack from the environment when imported: resolve them only.
for (const sub of ['net', 'dgram', 'dns', 'register']) {
  const file = fileURLToPath(import.meta.resolve('pstack/' + sub));
  if (!existsSync(file)) throw new Error('pstack/' + sub + ' resolves to a missing ' + file);
}
const tap = TapDevice.open({ name: process.argv[2] });
console.log('OPEN ' + JSON.stringify({ name: tap.name, version: pkg.version }));
process.stdin.resume();
process.stdin.on('end', () => {
  tap.close();
  console.log('CLOSED');
});
`);
    const added = await run('ip', ['netns', 'add', namespace], { timeoutMs: 10_000 });
    assert.equal(added.code, 0, describeFailure(`ip netns add ${namespace}`, added));
    namespaceMade = true;

    // Runs on the compiler-less PATH too: loading the addon must not need one either.
    const env = installEnv(join(work, 'bin'));
    const child = spawn(which('ip'), ['netns', 'exec', namespace, process.execPath, 'check.mjs', TAP_NAME],
      { cwd: project, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    liveChildren.add(child);
    child.stdin.on('error', () => { /* the script may be gone already */ });
    const killTimer = setTimeout(() => killGroup(child), 30_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
      clearTimeout(killTimer);
      liveChildren.delete(child);
      resolve(code);
    }));
    try {
      const opened = await Promise.race([
        new Promise<boolean>((resolve) => child.stdout.on('data', () => { if (stdout.includes('OPEN ')) resolve(true); })),
        exited.then(() => stdout.includes('OPEN ')),
      ]);
      assert.ok(opened, `the script did not open the TAP:\n${stdout}\n${stderr}`);
      const reported = JSON.parse(stdout.slice(stdout.indexOf('OPEN ') + 5).split('\n')[0]!) as { name: string; version: string };
      assert.equal(reported.name, TAP_NAME);
      assert.match(reported.version, /^\d+\.\d+\.\d+/);

      const shown = await run('ip', ['-n', namespace, 'link', 'show', TAP_NAME], { timeoutMs: 10_000 });
      assert.equal(shown.code, 0, describeFailure(`ip -n ${namespace} link show ${TAP_NAME}`, shown));
      assert.match(shown.stdout, new RegExp(`\\b${TAP_NAME}\\b`));
    } finally {
      child.stdin.end();
    }
    const code = await exited;
    assert.equal(code, 0, `the script failed after opening the TAP:\n${stdout}\n${stderr}`);
    assert.ok(stdout.includes('CLOSED'), `the script did not close the TAP:\n${stdout}\n${stderr}`);
    const gone = await run('ip', ['-n', namespace, 'link', 'show', TAP_NAME], { timeoutMs: 10_000 });
    assert.notEqual(gone.code, 0, `${TAP_NAME} still exists after close`);
  });
});

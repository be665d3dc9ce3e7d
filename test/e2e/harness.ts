/**
 * End-to-end test harness: network namespaces the test creates (unique names, always
 * deleted), a pstack server running on a TAP inside one, and Linux's own tools run there.
 *
 * Safety: only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are
 * used, every command has a timeout, and namespaces are removed even when a test fails or
 * the process is interrupted.
 */

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/**
 * Why end-to-end tests cannot run here, or null when they can. In CI (CI=true) missing
 * prerequisites are a failure, not a skip: a green run must mean the tests really ran.
 */
export function e2eUnavailable(): string | null {
  const missing: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root');
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
  if (!existsSync(fileURLToPath(new URL('../../../build/Release/pstack_tap.node', import.meta.url)))) missing.push('the native addon (npm install)');
  if (missing.length === 0) return null;
  const why = `end-to-end tests need ${missing.join(', ')}`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

const liveNamespaces = new Set<string>();
const liveChildren = new Set<ChildProcess>();

function cleanupEverything(): void {
  for (const c of liveChildren) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const ns of liveNamespaces) {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 }); } catch { /* already gone */ }
  }
  liveNamespaces.clear();
}
process.on('exit', cleanupEverything);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanupEverything();
    process.exit(130);
  });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion with a hard timeout (default 20 s). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
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
    child.stdin.on('error', () => { /* the command may not read its input */ });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

export class Netns {
  private constructor(readonly name: string) {}

  /** Create a namespace with a unique name (pstk-<tag>-<pid>-<random>) and loopback up. */
  static async create(tag: string): Promise<Netns> {
    const name = `pstk-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 40);
    const r = await run('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim()}`);
    liveNamespaces.add(name);
    const ns = new Netns(name);
    await ns.must('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  exec(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** exec, throwing with the command's stderr unless it exits 0. */
  async must(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<RunResult> {
    const r = await this.exec(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  spawn(cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    child.on('close', () => liveChildren.delete(child));
    return child;
  }

  async destroy(): Promise<void> {
    await run('ip', ['netns', 'del', this.name]);
    liveNamespaces.delete(this.name);
  }
}

export interface ServerHandle {
  child: ChildProcess;
  /** Everything the server wrote to stderr (the log) and stdout so far. */
  readonly log: string;
  /** Wait until the log matches, or throw after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGINT, then wait for exit; returns the exit code (SIGKILL after 5 s counts as failure). */
  stop(): Promise<number | null>;
}

/** Start `pstack <command> args` in the namespace and wait for its ready line. */
export function startPstack(ns: Netns, args: string[], ready: RegExp = /pstack server started/, timeoutMs = 15_000): Promise<ServerHandle> {
  return startNodeScript(ns, CLI, args, ready, timeoutMs);
}

/** Start a Node script (an example, say) in the namespace and wait for its ready line. */
export async function startNodeScript(ns: Netns, script: string, args: string[], ready: RegExp, timeoutMs = 15_000): Promise<ServerHandle> {
  const child = ns.spawn(process.execPath, [script, ...args]);
  let log = '';
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    log += b.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited: number | null | undefined;
  const exitPromise = new Promise<number | null>((resolve) => child.on('close', (code) => {
    exited = code;
    for (const w of waiters) w();
    resolve(code);
  }));
  const handle: ServerHandle = {
    child,
    get log() { return log; },
    waitForLog(pattern, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = log.match(pattern);
          if (m) { done(); resolve(m); return; }
          if (exited !== undefined) { done(); reject(new Error(`pstack exited (${exited}) before ${pattern}:\n${log}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${pattern}:\n${log}`)); }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exitPromise;
      clearTimeout(kill);
      return code;
    },
  };
  await handle.waitForLog(ready, timeoutMs);
  return handle;
}

/**
 * The house rules, checked on the source tree: no import cycles (type-only imports count, as
 * madge counts them), no module reaching up a layer, and a core (wire, time, stack,
 * transport) that uses only web-standard APIs so it can run outside Node.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/test/unit/architecture.test.js). */
const SRC = join(fileURLToPath(new URL('../../../', import.meta.url)), 'src');

/** What each top-level folder of src/ may import from (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  wire: [],
  time: [],
  link: ['wire', 'time'],
  stack: ['wire', 'time', 'link'],
  transport: ['wire', 'time', 'stack'],
  observe: ['wire'],
  api: ['wire', 'time', 'link', 'stack', 'transport', 'observe'],
  cli: ['wire', 'time', 'link', 'stack', 'transport', 'observe', 'api'],
};
/** The only files of the network layer a transport may see: the contract and its types. */
const TRANSPORT_SEES_OF_STACK = new Set(['stack/network.ts', 'stack/interface.ts']);
const CORE = ['wire', 'time', 'stack', 'transport'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports of a file, resolved to the .ts files they name. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  for (const m of text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** Text without comments, so that prose about Buffer or setImmediate does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

const files = sourceFiles(SRC);
const graph = new Map<string, string[]>();
for (const f of files) graph.set(f, importsOf(f, readFileSync(f, 'utf8')));
const rel = (f: string) => relative(SRC, f);
const layerOf = (f: string) => rel(f).split('/')[0]!;

test('the source tree has the layers the rules name', () => {
  const layers = new Set(files.map(layerOf).filter((l) => !l.endsWith('.ts')));
  assert.deepEqual([...layers].sort(), Object.keys(MAY_IMPORT).sort());
  assert.ok(files.length > 50, `found ${files.length} source files`);
});

test('no import cycles in src/', () => {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!graph.has(t)) continue;
      const s = state.get(t);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].map(rel).join(' -> '));
      else if (s === undefined) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('every relative import names a file that exists', () => {
  const missing: string[] = [];
  for (const [f, targets] of graph) for (const t of targets) if (!graph.has(t)) missing.push(`${rel(f)} -> ${rel(t)}`);
  assert.deepEqual(missing, []);
});

test('no module reaches up a layer', () => {
  const wrong: string[] = [];
  for (const [f, targets] of graph) {
    const from = layerOf(f);
    const allowed = MAY_IMPORT[from];
    if (allowed === undefined) continue; // src/index.ts re-exports every layer
    for (const t of targets) {
      const to = layerOf(t);
      if (to === from) continue;
      if (!allowed.includes(to)) wrong.push(`${rel(f)} -> ${rel(t)}`);
      else if (from === 'transport' && to === 'stack' && !TRANSPORT_SEES_OF_STACK.has(rel(t))) wrong.push(`${rel(f)} -> ${rel(t)} (transports see the network layer through stack/network.ts)`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the core uses only web-standard APIs', () => {
  const wrong: string[] = [];
  for (const f of files) {
    if (!CORE.includes(layerOf(f))) continue;
    const text = code(readFileSync(f, 'utf8'));
    for (const [what, re] of [
      ['a node: import', /from\s+'node:/],
      ['Buffer', /\bBuffer\b/],
      ['setImmediate', /\bsetImmediate\b/],
      ['process', /\bprocess\./],
      ['NodeJS types', /\bNodeJS\./],
      ['require', /\brequire\(/],
    ] as const) {
      if (re.test(text)) wrong.push(`${rel(f)}: ${what}`);
    }
  }
  assert.deepEqual(wrong, []);
});

// Where a Node process's CPU time went, from a V8 CPU profile (node --cpu-prof): self time
// grouped by where the code comes from (pstack's layers by directory, undici, pg, Node's own
// internals, garbage collection, idle), and the top functions by self time.
//
//   node bench/cpuprofile-summary.mjs FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}

function group(url, name) {
  if (name === '(garbage collector)' || name === '(idle)' || name === '(program)' || name === '(root)') return name;
  if (!url) return '(native / V8 builtins)';
  let m = url.match(/\/dist\/src\/([^/]+)(?:\/([^/]+))?/);
  if (m) return `pstack ${m[1]}${m[2] && !m[2].endsWith('.js') ? `/${m[2]}` : ''}`;
  m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return `package ${m[1]}`;
  m = url.match(/^node:internal\/deps\/([^/]+)/);
  if (m) return `node (bundled ${m[1]})`;
  m = url.match(/^node:(?:internal\/)?([^/]+)/);
  if (m) return `node ${m[1].replace(/\.js$/, '')}`;
  return url.replace(/^.*\//, '');
}

const groups = new Map();
const fns = new Map();
let total = 0;
let busy = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  const { functionName, url, lineNumber } = n.callFrame;
  const g = group(url, functionName);
  groups.set(g, (groups.get(g) ?? 0) + us);
  total += us;
  if (g !== '(idle)') busy += us;
  const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle (percentages of that)`);
for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1])) if (g !== '(idle)') console.log(`${pct(us)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${g}`);
console.log('top functions by self time:');
for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${f}`);

/**
 * bench/results.svg from the benchmark's metrics: one group per metric, a pstack bar and a
 * kernel bar (and, where measured, pstack without TAP offloads and the kernel with its
 * offloads) scaled to the largest, absolute values at the bar ends and the ratio pstack /
 * kernel (offloads off) on the right. Plain string templating, no dependencies.
 */

export interface ChartMetric {
  label: string;
  unit: string;
  pstack: number;
  kernel: number;
  /** true when a larger figure is better (throughput), false for times and costs. */
  higherIsBetter: boolean;
  /** More references where measured: pstack --offload off, the kernel with its offloads on. */
  extra?: { pstackNoOffload?: number; kernelOffload?: number };
}

const COLOURS = { pstack: '#e8772e', pstackNoOffload: '#f3b98f', kernel: '#3b6fb6', kernelOffload: '#9db7dc' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const a = Math.abs(n);
  if (a >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

export function renderSvg(metrics: ChartMetric[], title: string, subtitle: string, note = ''): string {
  const W = 1040;
  const labelW = 330;
  const barMax = 470;
  const ratioX = labelW + barMax + 85;
  const barsIn = (m: ChartMetric) => 2 + (m.extra?.pstackNoOffload !== undefined ? 1 : 0) + (m.extra?.kernelOffload !== undefined ? 1 : 0);
  const groupHeight = (m: ChartMetric) => Math.max(58, barsIn(m) * 22 + 14);
  const top = 92;
  const H = top + metrics.reduce((h, m) => h + groupHeight(m), 0) + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="20" y="32" font-size="20" font-weight="bold" fill="#222">${esc(title)}</text>`);
  out.push(`<text x="20" y="54" font-size="12" fill="#555">${esc(subtitle)}</text>`);
  const legend: [string, string][] = [
    [COLOURS.pstack, 'pstack (TAP, offloads)'], [COLOURS.pstackNoOffload, 'pstack, --offload off'],
    [COLOURS.kernel, 'kernel (veth, offloads off)'], [COLOURS.kernelOffload, 'kernel, offloads on'],
  ];
  legend.forEach(([colour, text], j) => {
    const x = 20 + j * 200;
    out.push(`<rect x="${x}" y="66" width="14" height="12" fill="${colour}"/><text x="${x + 20}" y="77" font-size="12" fill="#222">${esc(text)}</text>`);
  });
  out.push(`<text x="${ratioX}" y="77" font-size="12" font-weight="bold" fill="#222">pstack / kernel</text>`);
  let y = top;
  metrics.forEach((m, i) => {
    const groupH = groupHeight(m);
    if (i % 2 === 0) out.push(`<rect x="10" y="${y - 6}" width="${W - 20}" height="${groupH}" fill="#f4f4f4"/>`);
    out.push(`<text x="20" y="${y + 16}" font-size="13" fill="#222">${esc(m.label)}</text>`);
    out.push(`<text x="20" y="${y + 34}" font-size="11" fill="#666">${esc(m.unit)}; ${m.higherIsBetter ? 'higher' : 'lower'} is better</text>`);
    const bars: [number, string][] = [[m.pstack, COLOURS.pstack]];
    if (m.extra?.pstackNoOffload !== undefined) bars.push([m.extra.pstackNoOffload, COLOURS.pstackNoOffload]);
    bars.push([m.kernel, COLOURS.kernel]);
    if (m.extra?.kernelOffload !== undefined) bars.push([m.extra.kernelOffload, COLOURS.kernelOffload]);
    const max = Math.max(0, ...bars.map(([v]) => (Number.isFinite(v) ? v : 0))) || 1;
    bars.forEach(([v, colour], j) => {
      const by = y + j * 22;
      const w = Number.isFinite(v) ? Math.max(1, (v / max) * barMax) : 0;
      out.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="18" fill="${colour}"/>`);
      out.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${by + 14}" font-size="12" fill="#222">${esc(fmt(v))}</text>`);
    });
    const r = m.pstack / m.kernel;
    const good = Number.isFinite(r) && (m.higherIsBetter ? r >= 1 : r <= 1);
    out.push(`<text x="${ratioX}" y="${y + 27}" font-size="16" font-weight="bold" fill="${good ? '#2a7a2a' : '#222'}">${Number.isFinite(r) ? r.toFixed(2) : 'n/a'}</text>`);
    const ko = m.extra?.kernelOffload;
    if (ko !== undefined && Number.isFinite(m.pstack / ko)) {
      out.push(`<text x="${ratioX}" y="${y + 45}" font-size="11" fill="#555">${(m.pstack / ko).toFixed(2)} vs kernel with offloads</text>`);
    }
    y += groupH;
  });
  out.push(`<text x="20" y="${H - 14}" font-size="11" fill="#666">Bars are scaled per metric to the largest figure; each figure is the median of the repetitions.${note ? ' ' + esc(note) : ''}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

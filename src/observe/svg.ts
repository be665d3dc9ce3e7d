/** The little SVG the drawings need: escaping, numbers, and a document frame. */

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;'));
}

/** A coordinate with at most one decimal, so files stay small. */
export function num(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0';
}

export function svgOpen(width: number, height: number, title: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="monospace" font-size="11">\n<title>${escapeXml(title)}</title>\n<rect width="100%" height="100%" fill="white"/>\n`;
}

export function svgClose(): string {
  return '</svg>\n';
}

export function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${num(x)}" y="${num(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(content)}</text>\n`;
}

export function line(x1: number, y1: number, x2: number, y2: number, attrs: string): string {
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" ${attrs}/>\n`;
}

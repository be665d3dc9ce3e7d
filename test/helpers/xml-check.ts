/**
 * A small XML well-formedness check for the SVG the drawings write: balanced, properly nested
 * tags, quoted attributes, no stray '<' or unknown entities in text. Returns the problem or null.
 */
export function xmlProblem(doc: string): string | null {
  const stack: string[] = [];
  let roots = 0;
  const re = /<\?[^?]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(doc)) !== null) {
    if (m[6] !== undefined) return `stray '<' at ${m.index}`;
    if (m[5] !== undefined) {
      const bad = /&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(m[5]);
      if (bad) return `bad entity at ${m.index + bad.index}`;
      if (stack.length === 0 && m[5].trim() !== '') return `text outside the root at ${m.index}`;
      continue;
    }
    if (m[2] === undefined) continue;
    if (m[1] === '/') {
      const open = stack.pop();
      if (open !== m[2]) return `</${m[2]}> closes <${open}> at ${m.index}`;
    } else if (m[4] !== '/') {
      if (stack.length === 0) roots++;
      stack.push(m[2]);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) return `unclosed <${stack.at(-1)}>`;
  return roots === 1 ? null : `${roots} root elements`;
}

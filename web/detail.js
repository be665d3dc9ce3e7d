// One packet in detail: its layers field by field (the same fields as pstack's debug log) and
// its bytes as a hex dump; a field's bytes light up in the dump when the field is clicked or
// hovered, and clicking a byte selects the innermost field that holds it.

export function showPacket(layersEl, hexEl, packet) {
  const bytes = packet.hex.match(/../g) ?? [];
  renderHex(hexEl, bytes);
  layersEl.replaceChildren();
  const head = document.createElement('p');
  head.className = 'muted';
  head.textContent = `No. ${packet.id}, ${packet.dir === 'out' ? 'sent' : 'received'} on ${packet.dev}, ${packet.len} bytes` +
    (packet.captured < packet.len ? ` (${packet.captured} kept)` : '');
  layersEl.append(head);
  const all = [];
  for (const layer of packet.layers) {
    const box = document.createElement('details');
    box.className = 'layer' + (layer.malformed ? ' malformed' : '');
    box.open = true;
    const title = document.createElement('summary');
    title.textContent = layer.title;
    box.append(title);
    title.addEventListener('mouseenter', () => highlight(hexEl, layer.offset, layer.length));
    for (const f of layer.fields) {
      const row = document.createElement('div');
      row.className = 'field' + (f.offset >= 0 ? ' has-bytes' : '');
      row.dataset.name = f.name;
      row.dataset.offset = String(f.offset);
      row.dataset.length = String(f.length);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = f.name;
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = f.value;
      row.append(name, value);
      // A field without bytes of its own (DNS records, say) shows its layer's bytes.
      const [off, len] = f.offset >= 0 ? [f.offset, f.length] : [layer.offset, layer.length];
      row.addEventListener('mouseenter', () => { if (!layersEl.querySelector('.field.selected')) highlight(hexEl, off, len); });
      row.addEventListener('click', () => {
        const was = row.classList.contains('selected');
        for (const s of layersEl.querySelectorAll('.field.selected')) s.classList.remove('selected');
        if (!was) row.classList.add('selected');
        highlight(hexEl, was ? -1 : off, len);
      });
      box.append(row);
      if (f.offset >= 0) all.push({ row, off: f.offset, len: f.length });
    }
    layersEl.append(box);
  }
  hexEl.onclick = (e) => {
    const i = Number(e.target?.dataset?.i);
    if (!Number.isInteger(i)) return;
    // The innermost field: the last listed (outer layers come first) with the smallest span.
    let best = null;
    for (const f of all) if (i >= f.off && i < f.off + f.len && (best === null || f.len <= best.len)) best = f;
    if (best !== null) { best.row.click(); best.row.scrollIntoView({ block: 'nearest' }); }
  };
}

function renderHex(hexEl, bytes) {
  const frag = document.createDocumentFragment();
  for (let line = 0; line < bytes.length; line += 16) {
    const off = document.createElement('span');
    off.className = 'off';
    off.textContent = line.toString(16).padStart(4, '0') + '  ';
    frag.append(off);
    for (let i = line; i < line + 16; i++) {
      const b = document.createElement('span');
      if (i < bytes.length) { b.className = 'byte'; b.dataset.i = String(i); b.textContent = bytes[i]; } else b.textContent = '  ';
      frag.append(b, i === line + 7 ? '  ' : ' ');
    }
    frag.append(' ');
    for (let i = line; i < Math.min(line + 16, bytes.length); i++) {
      const c = document.createElement('span');
      const v = parseInt(bytes[i], 16);
      c.className = 'char';
      c.dataset.i = String(i);
      c.textContent = v > 0x20 && v < 0x7f ? String.fromCharCode(v) : '.';
      frag.append(c);
    }
    frag.append('\n');
  }
  hexEl.replaceChildren(frag);
}

function highlight(hexEl, offset, length) {
  for (const el of hexEl.querySelectorAll('.hl')) el.classList.remove('hl');
  if (offset < 0) return;
  for (const el of hexEl.querySelectorAll('[data-i]')) {
    const i = Number(el.dataset.i);
    if (i >= offset && i < offset + length) el.classList.add('hl');
  }
}

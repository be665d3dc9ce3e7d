// The ladder (message sequence diagram): a lifeline per host, an arrow per packet. Each table
// row holds its own slice of the diagram, so the arrows line up with the rows they belong to.

const SVG = 'http://www.w3.org/2000/svg';
const LANE_WIDTH = 64;

export class Ladder {
  constructor(headSvg) {
    this.head = headSvg;
    this.hosts = [];
    this.index = new Map();
  }

  /** Give `host` a lifeline; returns true when one was added (every row must then be redrawn). */
  add(host) {
    if (this.index.has(host)) return false;
    this.index.set(host, this.hosts.length);
    this.hosts.push(host);
    document.documentElement.style.setProperty('--ladder-width', `${Math.max(160, this.hosts.length * LANE_WIDTH)}px`);
    this.drawHead();
    return true;
  }

  x(host) {
    return `${((this.index.get(host) + 0.5) / this.hosts.length) * 100}%`;
  }

  drawHead() {
    this.head.replaceChildren();
    this.hosts.forEach((h, i) => {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', this.x(h));
      // Alternate rows of names, so that long addresses of neighbouring lanes do not overlap.
      t.setAttribute('y', i % 2 === 0 ? '35%' : '65%');
      t.dataset.host = h;
      t.textContent = h.length > 18 ? '…' + h.slice(-17) : h;
      const full = document.createElementNS(SVG, 'title');
      full.textContent = h;
      t.append(full);
      this.head.append(t);
      this.head.append(line('life', this.x(h), '75%', this.x(h), '100%'));
    });
  }

  /** Fill a row's svg: every lifeline, and the packet's arrow from src to dst. */
  draw(svg, packet) {
    svg.replaceChildren();
    for (const h of this.hosts) svg.append(line('life', this.x(h), '0', this.x(h), '100%'));
    const from = this.index.get(packet.src);
    const to = this.index.get(packet.dst);
    const cls = `arrow p-${protoClass(packet.proto)}`;
    if (from === to) {
      svg.append(line(cls, this.x(packet.src), '30%', this.x(packet.src), '70%'));
      return;
    }
    const arrow = line(cls, this.x(packet.src), '50%', this.x(packet.dst), '50%');
    arrow.setAttribute('marker-end', `url(#head-${protoClass(packet.proto)})`);
    svg.append(arrow);
  }
}

function line(cls, x1, y1, x2, y2) {
  const l = document.createElementNS(SVG, 'line');
  l.setAttribute('class', cls);
  l.setAttribute('x1', x1); l.setAttribute('y1', y1);
  l.setAttribute('x2', x2); l.setAttribute('y2', y2);
  return l;
}

export function protoClass(proto) {
  return ['arp', 'icmp', 'tcp', 'udp', 'dns', 'dhcp'].includes(proto) ? proto : 'other';
}

/** One hidden svg with an arrowhead marker per protocol colour, referenced by every row. */
export function installMarkers() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', '0'); svg.setAttribute('height', '0');
  svg.style.position = 'absolute';
  const defs = document.createElementNS(SVG, 'defs');
  for (const p of ['arp', 'icmp', 'tcp', 'udp', 'dns', 'dhcp', 'other']) {
    const m = document.createElementNS(SVG, 'marker');
    m.id = `head-${p}`;
    for (const [k, v] of Object.entries({ viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' })) m.setAttribute(k, v);
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', 'M0,0 L10,5 L0,10 z');
    path.setAttribute('class', `p-${p}`);
    path.style.fill = `var(--${p})`;
    m.append(path);
    defs.append(m);
  }
  svg.append(defs);
  document.body.append(svg);
}

// pstack's live page: packets arrive over Server-Sent Events (/events) as table rows; a click
// fetches the packet's dissection (/packet/ID); /tcp is polled for the connections table.

import { Ladder, installMarkers, protoClass } from './ladder.js';
import { showPacket } from './detail.js';

/** Rows kept in the page; older ones are removed (the server keeps more: see the pcapng). */
const MAX_ROWS = 5000;

const $ = (id) => document.getElementById(id);
const rowsEl = $('rows');
const statusEl = $('status');
const ladder = new Ladder($('ladder-head'));
const packets = [];          // every row kept, in order: { packet, el }
let pending = [];            // arrived while paused
let paused = false;
let firstTime = null;
let dropped = 0;
let selected = null;
let connected = false;
let events = null;
let expression = '';

installMarkers();

function matches(p) {
  const proto = $('proto').value;
  if (proto === 'other' && ['arp', 'icmp', 'tcp', 'udp', 'dns', 'dhcp'].includes(p.proto)) return false;
  if (proto === 'udp' && !['udp', 'dns', 'dhcp'].includes(p.proto)) return false;
  if (proto !== '' && proto !== 'other' && proto !== 'udp' && p.proto !== proto) return false;
  const text = $('text').value.trim().toLowerCase();
  return text === '' || `${p.summary} ${p.src} ${p.dst} ${p.dev}`.toLowerCase().includes(text);
}

function makeRow(p) {
  const el = document.createElement('div');
  el.className = `row p-row`;
  el.dataset.id = String(p.id);
  el.dataset.proto = p.proto;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'ladder');
  ladder.draw(svg, p);
  const cell = (cls, text) => { const s = document.createElement('span'); s.className = cls; s.textContent = text; return s; };
  const proto = cell(`proto p-${protoClass(p.proto)}`, p.proto.toUpperCase());
  el.append(svg, cell('no', p.id), cell('time', ((p.time - firstTime) / 1e6).toFixed(6)), cell('dir', p.dir === 'out' ? 'out' : 'in'), proto, cell('summary', p.summary));
  el.title = p.summary;
  el.hidden = !matches(p);
  el.addEventListener('click', () => select(p.id, el));
  return el;
}

function add(list) {
  if (list.length === 0) return;
  if (firstTime === null) firstTime = list[0].time;
  let redraw = false;
  for (const p of list) redraw = ladder.add(p.src) | ladder.add(p.dst) || redraw;
  if (redraw) for (const r of packets) ladder.draw(r.el.firstChild, r.packet);
  const follow = rowsEl.parentElement.scrollTop + rowsEl.parentElement.clientHeight >= rowsEl.parentElement.scrollHeight - 30;
  const frag = document.createDocumentFragment();
  for (const p of list) {
    const el = makeRow(p);
    packets.push({ packet: p, el });
    frag.append(el);
  }
  rowsEl.append(frag);
  while (packets.length > MAX_ROWS) packets.shift().el.remove();
  if (follow) rowsEl.parentElement.scrollTop = rowsEl.parentElement.scrollHeight;
  updateStatus();
}

function refilter() {
  for (const r of packets) r.el.hidden = !matches(r.packet);
  updateStatus();
}

function updateStatus() {
  const shown = packets.filter((r) => !r.el.hidden).length;
  let s = connected ? `${packets.length} packets, ${shown} shown` : 'disconnected: reconnecting…';
  if (paused) s += `, paused (${pending.length} new)`;
  if (dropped > 0) s += `, ${dropped} not received (this page fell behind)`;
  statusEl.textContent = s;
}

async function select(id, el) {
  if (selected) selected.classList.remove('selected');
  selected = el;
  el.classList.add('selected');
  const res = await fetch(`packet/${id}`);
  if (!res.ok) {
    $('layers').textContent = (await res.json().catch(() => ({}))).error ?? `packet ${id}: ${res.status}`;
    $('hex').replaceChildren();
    return;
  }
  showPacket($('layers'), $('hex'), await res.json());
}

function connect() {
  events?.close();
  events = new EventSource(expression === '' ? 'events' : `events?filter=${encodeURIComponent(expression)}`);
  events.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data);
    $('interfaces').textContent = hello.interfaces.join(', ');
    connected = true;
    updateStatus();
  });
  events.addEventListener('packets', (e) => {
    const list = JSON.parse(e.data).filter((p) => packets.length === 0 || p.id > packets[packets.length - 1].packet.id);
    if (paused) {
      pending.push(...list);
      if (pending.length > MAX_ROWS) { dropped += pending.length - MAX_ROWS; pending = pending.slice(-MAX_ROWS); }
      updateStatus();
    } else add(list);
  });
  events.addEventListener('dropped', (e) => {
    dropped += JSON.parse(e.data).count;
    updateStatus();
  });
  events.onerror = () => { connected = false; updateStatus(); };
}

$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('pause').classList.toggle('paused', paused);
  if (!paused) { const list = pending; pending = []; add(list); }
  updateStatus();
});
$('proto').addEventListener('change', refilter);
$('text').addEventListener('input', refilter);
$('filters').addEventListener('submit', (e) => e.preventDefault());

// A tcpdump expression is applied by the server: the stream starts again with the frames it
// still keeps that match, then the new ones that match.
async function applyExpression() {
  const text = $('expr').value.trim();
  if (text === expression) return;
  const check = await fetch(`filter?filter=${encodeURIComponent(text)}`);
  const answer = await check.json();
  $('expr-error').textContent = check.ok ? '' : answer.error;
  if (!check.ok) return;
  expression = text;
  for (const r of packets) r.el.remove();
  packets.length = 0;
  pending = [];
  dropped = 0;
  connect();
}
$('expr').addEventListener('change', applyExpression);
$('expr').addEventListener('keydown', (e) => { if (e.key === 'Enter') applyExpression(); });

async function pollTcp() {
  if (!document.hidden) {
    try {
      const { connections } = await (await fetch('tcp')).json();
      const body = $('tcp-table').tBodies[0];
      body.replaceChildren(...connections.map((c) => {
        const tr = document.createElement('tr');
        const opts = [c.congestion, c.sackOk ? 'sack' : '', c.timestamps ? 'ts' : '',
          c.sndWscale >= 0 ? `wscale:${c.sndWscale},${c.rcvWscale}` : '', c.inRecovery ? 'recovering' : ''].filter(Boolean).join(' ');
        const ms = (x) => String(Math.round(x * 1000) / 1000);
        const cells = [`${c.localAddress}:${c.localPort}`, `${c.remoteAddress}:${c.remotePort}`, c.state, c.cwnd, c.ssthresh ?? '-',
          c.srttMs > 0 ? `${ms(c.srttMs)}/${ms(c.rttvarMs)}` : '-', ms(c.rtoMs),
          c.sndWnd, c.rcvWnd, c.unacked, c.sendQueue, c.recvQueue, `${c.retransCurrent}/${c.retransTotal}`, c.mss, opts];
        for (const v of cells) { const td = document.createElement('td'); td.textContent = String(v); tr.append(td); }
        return tr;
      }));
    } catch { /* the server stopped: the event stream says so */ }
  }
  setTimeout(pollTcp, 1000);
}

connect();
pollTcp();

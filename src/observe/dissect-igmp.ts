/** IGMP (v1, v2, v3) in the log layout. Never throws. */

import { ipv4ToString } from '../wire/addr.js';
import { sum16 } from '../wire/checksum.js';
import { IGMP_MIN_LENGTH, igmpTypeName, parseIgmp } from '../wire/igmp.js';
import { multicastRecordTypeName } from '../wire/mld.js';
import { available } from './bounds.js';
import { checksumVerdict, field, malformedBlock, type Direction, type DissectionBlock } from './dissect-fields.js';

const W = 14; // "max response: "

/** `length` is the IPv4 payload length. */
export function dissectIgmp(direction: Direction, buf: Uint8Array, offset: number, length: number, fragment = false): DissectionBlock {
  const len = available(buf, offset, length);
  const title = `${direction} igmp packet`;
  const lines: string[] = [];
  const f = (name: string, value: string) => lines.push(field(W, name, value));
  if (len < IGMP_MIN_LENGTH) return malformedBlock(title, lines, `too-short (${len} bytes, header needs ${IGMP_MIN_LENGTH})`);
  const type = buf[offset]!;
  f('type', `${igmpTypeName(type)} (0x${type.toString(16)})`);
  const cs = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  f('checksum', fragment ? `0x${cs.toString(16).padStart(4, '0')}` : checksumVerdict(cs, sum16(buf, offset, len)));
  const m = parseIgmp(buf, offset, len);
  if (typeof m === 'string') return malformedBlock(title, lines, m);
  switch (m.kind) {
    case 'query':
      f('version', `IGMPv${m.version}`);
      f('max response', `${m.maxResponseTime / 10}s`);
      f('group', m.group === 0 ? '0.0.0.0 (general query)' : ipv4ToString(m.group));
      if (m.version === 3) {
        f('flags', `${m.suppressRouterSide ? 'S' : 'none'}, QRV ${m.robustness}, QQIC ${m.qqic} (${m.queryInterval}s)`);
        f('sources', m.sources.length ? m.sources.map(ipv4ToString).join(', ') : '-');
      }
      break;
    case 'report':
    case 'leave':
      f('group', ipv4ToString(m.group));
      break;
    case 'report3':
      f('records', String(m.records.length));
      for (const r of m.records) {
        const srcs = r.sources.length ? ` from [${r.sources.map(ipv4ToString).join(', ')}]` : '';
        f('record', `${multicastRecordTypeName(r.type)} (${r.type}) ${ipv4ToString(r.group)}${srcs}`);
      }
      break;
  }
  return { title, lines };
}

/**
 * A frame's dissection as data: layers, each a list of fields with their value text and
 * where their bytes are, for a display that shows a field's bytes in the hex dump (the web
 * page). It is read off the same blocks the seed-style log prints (dissect.ts), so the
 * protocol knowledge lives in one place and the page says exactly what the log says.
 *
 * A log line "name:   value" is a field; an indented line continues the field above (more hex
 * bytes, another IP option) unless the dissector gave it bytes of its own, in which case it is
 * a field of its own under the same name. Never throws (dissectFrame does not).
 */

import { dissectFrame, type DissectionBlock, type Direction, type LinkType } from './dissect.js';

export interface FrameField {
  name: string;
  value: string;
  /** First byte of the field, counted from the frame's first byte; -1 when it has no bytes of its own. */
  offset: number;
  length: number;
}

export interface FrameLayer {
  title: string;
  /** The layer's bytes, counted from the frame's first byte; -1 when unknown. */
  offset: number;
  length: number;
  malformed?: string;
  fields: FrameField[];
}

/** Fields of one block; `base` is the frame's offset in the buffer the block's spans refer to. */
export function blockFields(block: DissectionBlock, base: number): FrameField[] {
  const spanAt = new Map<number, [number, number]>();
  const spans = block.spans ?? [];
  for (let i = 0; i + 2 < spans.length; i += 3) {
    if (!spanAt.has(spans[i]!)) spanAt.set(spans[i]!, [spans[i + 1]! - base, spans[i + 2]!]);
  }
  const fields: FrameField[] = [];
  block.lines.forEach((line, i) => {
    const span = spanAt.get(i);
    const previous = fields.at(-1);
    const continuation = /^\s/.test(line);
    if (continuation && previous !== undefined && span === undefined) {
      previous.value += '\n' + line.trim();
      return;
    }
    const colon = line.indexOf(':');
    const name = continuation ? previous?.name ?? '' : colon > 0 ? line.slice(0, colon) : '';
    const value = continuation ? line.trim() : colon > 0 ? line.slice(colon + 1).trim() : line;
    fields.push({ name, value, offset: span?.[0] ?? -1, length: span?.[1] ?? 0 });
  });
  return fields;
}

export function blockLayer(block: DissectionBlock, base: number): FrameLayer {
  const layer: FrameLayer = {
    title: block.title,
    offset: block.offset === undefined ? -1 : block.offset - base,
    length: block.length ?? 0,
    fields: blockFields(block, base),
  };
  if (block.malformed !== undefined) layer.malformed = block.malformed;
  return layer;
}

/** Every layer that can be decoded, outermost first, with byte positions relative to the frame. */
export function frameLayers(
  direction: Direction, buf: Uint8Array, offset: number, length: number, linkType: LinkType = 'ethernet',
): FrameLayer[] {
  return dissectFrame(direction, buf, offset, length, linkType).map((b) => blockLayer(b, offset));
}

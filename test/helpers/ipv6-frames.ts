// The scapy-built IPv6/ICMPv6/NDP/MLD/IGMP frames of test/unit/fixtures/ipv6-frames.json
// (regenerate with test/unit/fixtures/gen-ipv6-frames.py), with the facts checked on them by
// `tshark -V` written into the tests that use them.
import { readFileSync } from 'node:fs';

const file = new URL('../../../test/unit/fixtures/ipv6-frames.json', import.meta.url);
const frames: Record<string, string> = JSON.parse(readFileSync(file, 'utf8'));

export function ipv6Frame(name: string): Uint8Array {
  const h = frames[name];
  if (h === undefined) throw new Error(`no frame ${name}`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

export const ipv6FrameNames = Object.keys(frames);

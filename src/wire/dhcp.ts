/**
 * (Over 600 lines on purpose: the fixed part, the option walk with its RFC 3396 joining, and
 * the typed option decoders and encoders are one codec sharing one set of bounds checks.)
 *
 * BOOTP/DHCP messages (RFC 951, RFC 2131) and the options a client uses (RFC 2132, RFC 3397
 * domain search, RFC 3442 classless static routes, RFC 3396 long options): parse into a plain
 * record with typed options, and emit such a record into a caller's buffer.
 *
 * The fixed part is 236 bytes (op .. file), then the magic cookie 99.130.83.99, then options
 * as code/length/data, 0 being a one-byte pad and 255 the end.
 *
 * Parsing never throws, whatever the bytes. What counts as malformed, and what it costs:
 * - The whole message is rejected (an `error`, no message) when it cannot be framed: shorter
 *   than the fixed part and cookie, a wrong cookie, an op other than 1 or 2, an hlen over 16,
 *   an option whose length byte is missing or whose data runs past the end, no END option in
 *   the options field, or a malformed Message Type (53) or Option Overload (52), the two
 *   options that decide how the rest is read.
 * - Any other option whose content is malformed (a wrong length for a fixed-size option, an
 *   address list not a multiple of 4, a route with a prefix over 32, a domain search list
 *   with a bad label or a pointer that does not point backwards, an MTU below 68, ...) is
 *   left out of the typed options and listed in `problems`; the rest of the message is kept.
 *   The user of the message decides whether it can do without that option (the DHCP client
 *   drops a message whose server identifier or lease time is malformed).
 *
 * Options that appear more than once are concatenated in order (RFC 3396), so a fixed-size
 * option sent twice has a bad length. Option Overload (52) is honoured on input: options in
 * `file` (value 1 or 3) and then `sname` (2 or 3) are read after the options field (bounded
 * by the field; an END there is optional). Emit never overloads; `sname` and `file` are
 * copied through as they are, so a parsed message re-emits its own bytes there.
 *
 * Strings (host name, domain name, message) are NVT ASCII on the wire; they are read byte
 * for byte (latin1) with trailing NULs dropped, and written the same way ('?' for characters
 * beyond U+00FF).
 */

import { readIpv4, writeIpv4, type Ipv4Address } from './addr.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** op .. file: the BOOTP fixed header. */
export const BOOTP_FIXED_LENGTH = 236;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Fixed header plus cookie: the shortest message that can be DHCP. */
export const DHCP_OPTIONS_OFFSET = 240;
/** BOOTP's minimum message (RFC 951); emit pads to it by default, as most clients do. */
export const BOOTP_MIN_LENGTH = 300;
/** The DHCP message every host must accept (RFC 2131: 576-byte IP datagram less 28). */
export const DHCP_MIN_MAX_MESSAGE = 576;
export const DHCP_FLAG_BROADCAST = 0x8000;
export const DHCP_CHADDR_LENGTH = 16;
export const DHCP_SNAME_LENGTH = 64;
export const DHCP_FILE_LENGTH = 128;
/** A lease time meaning "forever" (RFC 2131 3.3). */
export const DHCP_INFINITE_LEASE = 0xffffffff;

const SNAME_OFFSET = 44;
const FILE_OFFSET = 108;

export const BootpOp = { Request: 1, Reply: 2 } as const;

export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
  ForceRenew: 9,
} as const;

const MESSAGE_TYPE_NAMES = [
  '', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM', 'FORCERENEW',
  'LEASEQUERY', 'LEASEUNASSIGNED', 'LEASEUNKNOWN', 'LEASEACTIVE', 'BULKLEASEQUERY', 'LEASEQUERYDONE',
  'ACTIVELEASEQUERY', 'LEASEQUERYSTATUS', 'TLS',
];

export function dhcpMessageTypeName(type: number): string {
  return (type > 0 && MESSAGE_TYPE_NAMES[type]) || `type-${type}`;
}

export const DhcpOptionCode = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServer: 6,
  HostName: 12,
  DomainName: 15,
  InterfaceMtu: 26,
  BroadcastAddress: 28,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  DomainSearch: 119,
  ClasslessRoutes: 121,
  End: 255,
} as const;

const OPTION_NAMES: Record<number, string> = {
  0: 'Pad', 1: 'Subnet Mask', 2: 'Time Offset', 3: 'Router', 4: 'Time Server', 5: 'Name Server',
  6: 'Domain Name Server', 7: 'Log Server', 12: 'Host Name', 13: 'Boot File Size', 15: 'Domain Name',
  17: 'Root Path', 19: 'IP Forwarding', 23: 'Default IP TTL', 26: 'Interface MTU', 28: 'Broadcast Address',
  31: 'Perform Router Discovery', 33: 'Static Route', 35: 'ARP Cache Timeout', 42: 'NTP Servers',
  43: 'Vendor-Specific Information', 44: 'NetBIOS Name Server', 46: 'NetBIOS Node Type', 47: 'NetBIOS Scope',
  50: 'Requested IP Address', 51: 'IP Address Lease Time', 52: 'Option Overload', 53: 'DHCP Message Type',
  54: 'Server Identifier', 55: 'Parameter Request List', 56: 'Message', 57: 'Maximum DHCP Message Size',
  58: 'Renewal (T1) Time', 59: 'Rebinding (T2) Time', 60: 'Vendor Class Identifier', 61: 'Client Identifier',
  66: 'TFTP Server Name', 67: 'Bootfile Name', 80: 'Rapid Commit', 81: 'Client FQDN', 82: 'Relay Agent Information',
  108: 'IPv6-Only Preferred', 114: 'Captive Portal', 119: 'Domain Search', 121: 'Classless Static Route',
  249: 'Private/Classless Static Route (Microsoft)', 252: 'Private/Proxy autodiscovery', 255: 'End',
};

export function dhcpOptionName(code: number): string {
  return OPTION_NAMES[code] ?? `Option ${code}`;
}

export interface ClasslessRoute {
  destination: Ipv4Address;
  prefixLength: number;
  /** The next hop; 0.0.0.0 is taken by common practice to mean "on link". */
  router: Ipv4Address;
}

/** An option kept as bytes: any code without a typed field below. */
export interface DhcpRawOption {
  code: number;
  data: Uint8Array;
}

/** Typed options; an absent field is an option that was absent (or malformed, see problems). */
export interface DhcpOptions {
  /** 53 */
  messageType?: number;
  /** 1 */
  subnetMask?: Ipv4Address;
  /** 3, in order of preference */
  routers?: Ipv4Address[];
  /** 6 */
  dnsServers?: Ipv4Address[];
  /** 12 */
  hostName?: string;
  /** 15 */
  domainName?: string;
  /** 26, at least 68 */
  interfaceMtu?: number;
  /** 50 */
  requestedIp?: Ipv4Address;
  /** 51, seconds (DHCP_INFINITE_LEASE for ever) */
  leaseTime?: number;
  /** 54 */
  serverId?: Ipv4Address;
  /** 55, option codes */
  parameterRequestList?: number[];
  /** 56, a server's explanation (in a NAK) or a client's (in a DECLINE) */
  message?: string;
  /** 57, at least 576 */
  maxMessageSize?: number;
  /** 58, T1 in seconds */
  renewalTime?: number;
  /** 59, T2 in seconds */
  rebindingTime?: number;
  /** 61, type byte then identifier */
  clientId?: Uint8Array;
  /** 119, names without the trailing dot */
  domainSearch?: string[];
  /** 121 */
  classlessRoutes?: ClasslessRoute[];
  /** Every other option, in order of first appearance (emitted after the typed ones). */
  other?: DhcpRawOption[];
}

export interface DhcpMessage {
  /** 1 BOOTREQUEST, 2 BOOTREPLY */
  op: number;
  /** 1 for Ethernet */
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  /** DHCP_FLAG_BROADCAST is the only defined bit. */
  flags: number;
  ciaddr: Ipv4Address;
  yiaddr: Ipv4Address;
  siaddr: Ipv4Address;
  giaddr: Ipv4Address;
  /** 16 bytes (shorter is zero-filled on emit); the first hlen are the hardware address. */
  chaddr: Uint8Array;
  /** 64 bytes, kept as they are (shorter is zero-filled on emit). */
  sname: Uint8Array;
  /** 128 bytes, kept as they are (shorter is zero-filled on emit). */
  file: Uint8Array;
  options: DhcpOptions;
}

/** A message with defaults for everything but what identifies it. */
export function createDhcpMessage(init: Partial<DhcpMessage> & Pick<DhcpMessage, 'op' | 'xid'>): DhcpMessage {
  return {
    htype: 1, hlen: 6, hops: 0, secs: 0, flags: 0,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr: new Uint8Array(DHCP_CHADDR_LENGTH),
    sname: new Uint8Array(DHCP_SNAME_LENGTH),
    file: new Uint8Array(DHCP_FILE_LENGTH),
    options: {},
    ...init,
  };
}

export interface DhcpOptionProblem {
  code: number;
  reason: string;
}

export type DhcpParseResult =
  | { error: null; message: DhcpMessage; problems: DhcpOptionProblem[]; overload: number }
  | { error: string; errorOffset: number; message: null; problems: DhcpOptionProblem[] };

/** One option's place in the buffer, as the walker found it. */
export interface DhcpOptionSpan {
  code: number;
  /** Absolute offset of the code byte. */
  offset: number;
  /** Data length (0 for pad and end). */
  length: number;
}

export interface DhcpOptionWalk {
  options: DhcpOptionSpan[];
  /** null when well framed; else a reason, at the absolute offset errorOffset. */
  error: string | null;
  errorOffset: number;
  sawEnd: boolean;
}

/**
 * The options in buf[offset, offset+length) in wire order, pads left out, END included.
 * Stops at END. An option without its length byte or whose data runs past the end is an
 * error; a missing END is reported through sawEnd.
 */
export function walkDhcpOptions(buf: Uint8Array, offset: number, length: number): DhcpOptionWalk {
  const options: DhcpOptionSpan[] = [];
  const end = Math.min(offset + length, buf.length);
  let i = offset;
  while (i < end) {
    const code = buf[i]!;
    if (code === DhcpOptionCode.Pad) { i++; continue; }
    if (code === DhcpOptionCode.End) {
      options.push({ code, offset: i, length: 0 });
      return { options, error: null, errorOffset: -1, sawEnd: true };
    }
    if (i + 1 >= end) return { options, error: 'option-truncated', errorOffset: i, sawEnd: false };
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return { options, error: 'option-past-end', errorOffset: i, sawEnd: false };
    options.push({ code, offset: i, length: len });
    i += 2 + len;
  }
  return { options, error: null, errorOffset: -1, sawEnd: false };
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function latin1(b: Uint8Array): string {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function addressList(data: Uint8Array): Ipv4Address[] {
  const out: Ipv4Address[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) out.push(readIpv4(data, i));
  return out;
}

/** Bounds for a domain search list: a name's encoded length (RFC 1035) and label length. */
const MAX_NAME_LENGTH = 255;
const MAX_LABEL_LENGTH = 63;

/**
 * RFC 3397: a sequence of RFC 1035 names whose compression pointers are offsets into the
 * (concatenated) option data. A pointer must point strictly before itself, so following
 * pointers always ends; a name is at most 255 bytes. Returns the names or a problem.
 */
export function decodeDomainSearch(data: Uint8Array): string[] | { problem: string } {
  const names: string[] = [];
  let pos = 0;
  while (pos < data.length) {
    const labels: string[] = [];
    let p = pos;
    let next = -1; // where the sequential list continues, once a pointer was followed
    let encoded = 0;
    for (;;) {
      if (p >= data.length) return { problem: 'name-truncated' };
      const len = data[p]!;
      if (len === 0) {
        if (next < 0) next = p + 1;
        break;
      }
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        if (p + 1 >= data.length) return { problem: 'name-truncated' };
        const target = ((len & 0x3f) << 8) | data[p + 1]!;
        if (target >= p) return { problem: 'bad-pointer' };
        if (next < 0) next = p + 2;
        p = target;
        continue;
      }
      if (kind !== 0) return { problem: 'bad-label' };
      if (p + 1 + len > data.length) return { problem: 'name-truncated' };
      encoded += 1 + len;
      if (encoded + 1 > MAX_NAME_LENGTH) return { problem: 'name-too-long' };
      labels.push(latin1Exact(data, p + 1, len));
      p += 1 + len;
    }
    names.push(labels.join('.'));
    pos = next;
  }
  return names;
}

function latin1Exact(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[o + i]!);
  return s;
}

/**
 * RFC 3442: each route is a prefix width (0..32), the significant octets of the destination
 * (ceil(width / 8) of them), then the router. Bits beyond the prefix are cleared.
 */
export function decodeClasslessRoutes(data: Uint8Array): ClasslessRoute[] | { problem: string } {
  const routes: ClasslessRoute[] = [];
  let i = 0;
  while (i < data.length) {
    const width = data[i]!;
    if (width > 32) return { problem: 'bad-prefix' };
    const octets = (width + 7) >>> 3;
    if (i + 1 + octets + 4 > data.length) return { problem: 'route-truncated' };
    let dest = 0;
    for (let k = 0; k < 4; k++) dest = dest * 256 + (k < octets ? data[i + 1 + k]! : 0);
    const mask = width === 0 ? 0 : (0xffffffff << (32 - width)) >>> 0;
    routes.push({ destination: (dest & mask) >>> 0, prefixLength: width, router: readIpv4(data, i + 1 + octets) });
    i += 1 + octets + 4;
  }
  return routes;
}

export type DhcpOptionValue =
  | number | number[] | string | string[] | Uint8Array | ClasslessRoute[];

/**
 * Decode one option's (concatenated) data into the typed value its field holds; a problem
 * when malformed; `undefined` when the code has no typed field.
 */
export function decodeDhcpOption(code: number, data: Uint8Array): { value: DhcpOptionValue } | { problem: string } | undefined {
  const n = data.length;
  const bad = { problem: 'bad-length' };
  switch (code) {
    case DhcpOptionCode.SubnetMask:
    case DhcpOptionCode.RequestedIp:
    case DhcpOptionCode.ServerId:
    case DhcpOptionCode.BroadcastAddress:
      return n === 4 ? { value: readIpv4(data, 0) } : bad;
    case DhcpOptionCode.LeaseTime:
    case DhcpOptionCode.RenewalTime:
    case DhcpOptionCode.RebindingTime:
      return n === 4 ? { value: u32(data, 0) } : bad;
    case DhcpOptionCode.Router:
    case DhcpOptionCode.DnsServer:
      return n >= 4 && n % 4 === 0 ? { value: addressList(data) } : bad;
    case DhcpOptionCode.HostName:
    case DhcpOptionCode.DomainName:
    case DhcpOptionCode.Message:
      return n >= 1 ? { value: latin1(data) } : bad;
    case DhcpOptionCode.InterfaceMtu:
      if (n !== 2) return bad;
      return u16(data, 0) >= 68 ? { value: u16(data, 0) } : { problem: 'bad-value' };
    case DhcpOptionCode.MaxMessageSize:
      if (n !== 2) return bad;
      return u16(data, 0) >= DHCP_MIN_MAX_MESSAGE ? { value: u16(data, 0) } : { problem: 'bad-value' };
    case DhcpOptionCode.MessageType:
      if (n !== 1) return bad;
      return data[0] !== 0 ? { value: data[0]! } : { problem: 'bad-value' };
    case DhcpOptionCode.Overload:
      if (n !== 1) return bad;
      return data[0]! >= 1 && data[0]! <= 3 ? { value: data[0]! } : { problem: 'bad-value' };
    case DhcpOptionCode.ParameterRequestList:
      return n >= 1 ? { value: Array.from(data) } : bad;
    case DhcpOptionCode.ClientId:
      return n >= 2 ? { value: data.slice() } : bad;
    case DhcpOptionCode.DomainSearch: {
      if (n < 1) return bad;
      const r = decodeDomainSearch(data);
      return Array.isArray(r) ? { value: r } : r;
    }
    case DhcpOptionCode.ClasslessRoutes: {
      if (n < 5) return bad;
      const r = decodeClasslessRoutes(data);
      return Array.isArray(r) ? { value: r } : r;
    }
    default:
      return undefined;
  }
}

const FIELD_OF: Partial<Record<number, keyof DhcpOptions>> = {
  1: 'subnetMask', 3: 'routers', 6: 'dnsServers', 12: 'hostName', 15: 'domainName', 26: 'interfaceMtu',
  50: 'requestedIp', 51: 'leaseTime', 53: 'messageType', 54: 'serverId', 55: 'parameterRequestList',
  56: 'message', 57: 'maxMessageSize', 58: 'renewalTime', 59: 'rebindingTime', 61: 'clientId',
  119: 'domainSearch', 121: 'classlessRoutes',
};

/** Options of one code, in order: data concatenated as RFC 3396 asks. */
interface Gathered {
  code: number;
  parts: Uint8Array[];
}

function gather(into: Map<number, Gathered>, buf: Uint8Array, spans: readonly DhcpOptionSpan[]): void {
  for (const s of spans) {
    if (s.code === DhcpOptionCode.End) continue;
    let g = into.get(s.code);
    if (!g) into.set(s.code, (g = { code: s.code, parts: [] }));
    g.parts.push(buf.subarray(s.offset + 2, s.offset + 2 + s.length));
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function fail(error: string, errorOffset: number, problems: DhcpOptionProblem[] = []): DhcpParseResult {
  return { error, errorOffset, message: null, problems };
}

/** Parse a DHCP message (a UDP payload) in buf[offset, offset+length). Never throws. */
export function parseDhcp(buf: Uint8Array, offset = 0, length = buf.length - offset): DhcpParseResult {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) return fail('too-short', 0);
  const len = Math.max(0, Math.min(Math.floor(Number.isFinite(length) ? length : 0), buf.length - offset));
  if (len < DHCP_OPTIONS_OFFSET) return fail('too-short', offset);
  const b = buf;
  const o = offset;
  const op = b[o]!;
  if (op !== BootpOp.Request && op !== BootpOp.Reply) return fail('bad-op', o);
  const hlen = b[o + 2]!;
  if (hlen > DHCP_CHADDR_LENGTH) return fail('bad-hlen', o + 2);
  if (u32(b, o + BOOTP_FIXED_LENGTH) !== DHCP_MAGIC_COOKIE) return fail('bad-magic-cookie', o + BOOTP_FIXED_LENGTH);

  const main = walkDhcpOptions(b, o + DHCP_OPTIONS_OFFSET, len - DHCP_OPTIONS_OFFSET);
  if (main.error) return fail(main.error, main.errorOffset);
  if (!main.sawEnd) return fail('missing-end', o + len);

  const gathered = new Map<number, Gathered>();
  gather(gathered, b, main.options);
  const problems: DhcpOptionProblem[] = [];

  let overload = 0;
  const ov = gathered.get(DhcpOptionCode.Overload);
  if (ov) {
    const r = decodeDhcpOption(DhcpOptionCode.Overload, concat(ov.parts));
    if (!r || 'problem' in r) return fail('bad-overload', o + DHCP_OPTIONS_OFFSET);
    overload = r.value as number;
    gathered.delete(DhcpOptionCode.Overload);
    // RFC 2131 4.1: the file field is read first, then sname.
    for (const [bit, start, size] of [[1, FILE_OFFSET, DHCP_FILE_LENGTH], [2, SNAME_OFFSET, DHCP_SNAME_LENGTH]] as const) {
      if ((overload & bit) === 0) continue;
      const walk = walkDhcpOptions(b, o + start, size);
      if (walk.error) return fail(walk.error, walk.errorOffset);
      const spans = walk.options.filter((s) => s.code !== DhcpOptionCode.Overload);
      if (spans.length !== walk.options.length) problems.push({ code: DhcpOptionCode.Overload, reason: 'overload-in-overloaded-field' });
      gather(gathered, b, spans);
    }
  }

  const options: DhcpOptions = {};
  const other: DhcpRawOption[] = [];
  for (const g of gathered.values()) {
    const data = concat(g.parts);
    const field = FIELD_OF[g.code];
    const r = field ? decodeDhcpOption(g.code, data) : undefined;
    if (r === undefined) { other.push({ code: g.code, data }); continue; }
    if ('problem' in r) {
      if (g.code === DhcpOptionCode.MessageType) return fail('bad-message-type', o + DHCP_OPTIONS_OFFSET, problems);
      problems.push({ code: g.code, reason: r.problem });
      continue;
    }
    (options as Record<string, unknown>)[field!] = r.value;
  }
  if (other.length > 0) options.other = other;

  const message: DhcpMessage = {
    op,
    htype: b[o + 1]!,
    hlen,
    hops: b[o + 3]!,
    xid: u32(b, o + 4),
    secs: u16(b, o + 8),
    flags: u16(b, o + 10),
    ciaddr: readIpv4(b, o + 12),
    yiaddr: readIpv4(b, o + 16),
    siaddr: readIpv4(b, o + 20),
    giaddr: readIpv4(b, o + 24),
    chaddr: b.slice(o + 28, o + 28 + DHCP_CHADDR_LENGTH),
    sname: b.slice(o + SNAME_OFFSET, o + SNAME_OFFSET + DHCP_SNAME_LENGTH),
    file: b.slice(o + FILE_OFFSET, o + FILE_OFFSET + DHCP_FILE_LENGTH),
    options,
  };
  return { error: null, message, problems, overload };
}

// ---------------------------------------------------------------------------------------
// Emit

function stringBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c <= 0xff ? c : 0x3f;
  }
  return out;
}

function addressBytes(list: readonly Ipv4Address[]): Uint8Array {
  const out = new Uint8Array(4 * list.length);
  list.forEach((a, i) => writeIpv4(out, 4 * i, a));
  return out;
}

function u32Bytes(v: number): Uint8Array {
  const out = new Uint8Array(4);
  writeIpv4(out, 0, v >>> 0);
  return out;
}

function u16Bytes(v: number): Uint8Array {
  return new Uint8Array([(v >>> 8) & 0xff, v & 0xff]);
}

/** RFC 1035 names, uncompressed. Throws RangeError on an empty inner label or one over 63 bytes. */
export function encodeDomainSearch(names: readonly string[]): Uint8Array {
  const bytes: number[] = [];
  for (const name of names) {
    const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
    const start = bytes.length;
    if (trimmed !== '') {
      for (const label of trimmed.split('.')) {
        const l = stringBytes(label);
        if (l.length === 0 || l.length > MAX_LABEL_LENGTH) throw new RangeError(`bad label in domain name "${name}"`);
        bytes.push(l.length, ...l);
      }
    }
    bytes.push(0);
    if (bytes.length - start > MAX_NAME_LENGTH) throw new RangeError(`domain name too long: "${name}"`);
  }
  return Uint8Array.from(bytes);
}

/** RFC 3442 encoding. Throws RangeError on a prefix length outside 0..32. */
export function encodeClasslessRoutes(routes: readonly ClasslessRoute[]): Uint8Array {
  const bytes: number[] = [];
  for (const r of routes) {
    if (!Number.isInteger(r.prefixLength) || r.prefixLength < 0 || r.prefixLength > 32) {
      throw new RangeError(`bad prefix length ${r.prefixLength}`);
    }
    bytes.push(r.prefixLength);
    const octets = (r.prefixLength + 7) >>> 3;
    for (let k = 0; k < octets; k++) bytes.push((r.destination >>> (24 - 8 * k)) & 0xff);
    bytes.push((r.router >>> 24) & 0xff, (r.router >>> 16) & 0xff, (r.router >>> 8) & 0xff, r.router & 0xff);
  }
  return Uint8Array.from(bytes);
}

/** The options in the order emit writes them: message type first, then by usefulness. */
function optionList(opts: DhcpOptions): DhcpRawOption[] {
  const list: DhcpRawOption[] = [];
  const add = (code: number, data: Uint8Array | undefined) => { if (data) list.push({ code, data }); };
  const C = DhcpOptionCode;
  add(C.MessageType, opts.messageType !== undefined ? new Uint8Array([opts.messageType]) : undefined);
  add(C.ServerId, opts.serverId !== undefined ? u32Bytes(opts.serverId) : undefined);
  add(C.ClientId, opts.clientId);
  add(C.RequestedIp, opts.requestedIp !== undefined ? u32Bytes(opts.requestedIp) : undefined);
  add(C.MaxMessageSize, opts.maxMessageSize !== undefined ? u16Bytes(opts.maxMessageSize) : undefined);
  add(C.HostName, opts.hostName !== undefined ? stringBytes(opts.hostName) : undefined);
  add(C.ParameterRequestList, opts.parameterRequestList ? Uint8Array.from(opts.parameterRequestList) : undefined);
  add(C.LeaseTime, opts.leaseTime !== undefined ? u32Bytes(opts.leaseTime) : undefined);
  add(C.RenewalTime, opts.renewalTime !== undefined ? u32Bytes(opts.renewalTime) : undefined);
  add(C.RebindingTime, opts.rebindingTime !== undefined ? u32Bytes(opts.rebindingTime) : undefined);
  add(C.SubnetMask, opts.subnetMask !== undefined ? u32Bytes(opts.subnetMask) : undefined);
  add(C.Router, opts.routers ? addressBytes(opts.routers) : undefined);
  add(C.DnsServer, opts.dnsServers ? addressBytes(opts.dnsServers) : undefined);
  add(C.DomainName, opts.domainName !== undefined ? stringBytes(opts.domainName) : undefined);
  add(C.DomainSearch, opts.domainSearch ? encodeDomainSearch(opts.domainSearch) : undefined);
  add(C.InterfaceMtu, opts.interfaceMtu !== undefined ? u16Bytes(opts.interfaceMtu) : undefined);
  add(C.ClasslessRoutes, opts.classlessRoutes ? encodeClasslessRoutes(opts.classlessRoutes) : undefined);
  add(C.Message, opts.message !== undefined ? stringBytes(opts.message) : undefined);
  for (const o of opts.other ?? []) {
    if (o.code !== C.Pad && o.code !== C.End) list.push(o);
  }
  return list;
}

/** Bytes an option takes: data over 255 bytes is split into several options (RFC 3396). */
function encodedLength(data: Uint8Array): number {
  const chunks = Math.max(1, Math.ceil(data.length / 255));
  return 2 * chunks + data.length;
}

export interface DhcpEmitOptions {
  /** Pad with zeros to this many bytes (default BOOTP_MIN_LENGTH, 300). */
  minLength?: number;
}

/** What emitDhcp will write for this message; throws RangeError where emitDhcp would. */
export function dhcpMessageLength(msg: DhcpMessage, emitOptions: DhcpEmitOptions = {}): number {
  let n = DHCP_OPTIONS_OFFSET + 1; // END
  for (const o of optionList(msg.options)) n += encodedLength(o.data);
  return Math.max(n, emitOptions.minLength ?? BOOTP_MIN_LENGTH);
}

function copyField(buf: Uint8Array, at: number, size: number, src: Uint8Array): void {
  const n = Math.min(size, src.length);
  buf.set(src.subarray(0, n), at);
  buf.fill(0, at + n, at + size);
}

/**
 * Write `msg` at buf[offset]; returns the bytes written, or -1 (nothing written) when the
 * buffer has no room. Throws RangeError only for values no encoding exists for (a route
 * prefix over 32, a domain label over 63 bytes).
 */
export function emitDhcp(buf: Uint8Array, offset: number, msg: DhcpMessage, emitOptions: DhcpEmitOptions = {}): number {
  const list = optionList(msg.options);
  let total = DHCP_OPTIONS_OFFSET + 1;
  for (const o of list) total += encodedLength(o.data);
  total = Math.max(total, emitOptions.minLength ?? BOOTP_MIN_LENGTH);
  if (offset < 0 || offset + total > buf.length) return -1;
  const b = buf;
  const o = offset;
  b[o] = msg.op;
  b[o + 1] = msg.htype;
  b[o + 2] = msg.hlen;
  b[o + 3] = msg.hops;
  writeIpv4(b, o + 4, msg.xid >>> 0);
  b[o + 8] = (msg.secs >>> 8) & 0xff;
  b[o + 9] = msg.secs & 0xff;
  b[o + 10] = (msg.flags >>> 8) & 0xff;
  b[o + 11] = msg.flags & 0xff;
  writeIpv4(b, o + 12, msg.ciaddr);
  writeIpv4(b, o + 16, msg.yiaddr);
  writeIpv4(b, o + 20, msg.siaddr);
  writeIpv4(b, o + 24, msg.giaddr);
  copyField(b, o + 28, DHCP_CHADDR_LENGTH, msg.chaddr);
  copyField(b, o + SNAME_OFFSET, DHCP_SNAME_LENGTH, msg.sname);
  copyField(b, o + FILE_OFFSET, DHCP_FILE_LENGTH, msg.file);
  writeIpv4(b, o + BOOTP_FIXED_LENGTH, DHCP_MAGIC_COOKIE);
  let i = o + DHCP_OPTIONS_OFFSET;
  for (const opt of list) {
    let at = 0;
    do {
      const n = Math.min(255, opt.data.length - at);
      b[i] = opt.code;
      b[i + 1] = n;
      b.set(opt.data.subarray(at, at + n), i + 2);
      i += 2 + n;
      at += n;
    } while (at < opt.data.length);
  }
  b[i++] = DhcpOptionCode.End;
  b.fill(0, i, o + total);
  return total;
}

/** emitDhcp into a new buffer of exactly the right size. */
export function encodeDhcp(msg: DhcpMessage, emitOptions: DhcpEmitOptions = {}): Uint8Array {
  const out = new Uint8Array(dhcpMessageLength(msg, emitOptions));
  emitDhcp(out, 0, msg, emitOptions);
  return out;
}

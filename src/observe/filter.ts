/**
 * tcpdump's common filter primitives, compiled to a predicate over a frame's bytes:
 *
 *   host H, net N/len, net N mask M, port P, portrange A-B, with src/dst qualifiers
 *   (src or dst, src and dst), ether host/src/dst MAC, arp, ip, ip6, icmp, icmp6, igmp, tcp,
 *   udp, `tcp port 80`, `udp dst port 53`, and, or, not (&&, ||, !), parentheses. Hosts and
 *   nets are IPv4 or IPv6 (`host 2001:db8::1`, `net 2001:db8::/32`).
 *
 * IPv6 follows libpcap's code generator: `icmp6`, `tcp` and `udp` match the protocol in the
 * fixed header's next-header field or right after a fragment header (not after other
 * extension headers: an MLD report behind its hop-by-hop header is not `icmp6`), and `port`
 * looks only at TCP and UDP directly after the fixed header.
 *
 * A bad expression is a FilterSyntaxError with one line saying what is wrong. The compiled
 * predicate reads the bytes in place (no copy, no allocation per frame) and never throws: a
 * frame too short for a field simply does not match.
 */

export class FilterSyntaxError extends Error {}

import { ipv6PrefixMatch, parseIpv6 } from '../wire/addr6.js';

export type FrameLink = 'ethernet' | 'ip';
/** True when the frame (Ethernet, or raw IP on loopback) matches. */
export type FramePredicate = (buf: Uint8Array, offset: number, length: number, link: FrameLink) => boolean;

/** The IPv4 header's offset in the frame, or -1 for a non-IPv4 frame. */
function ipStart(b: Uint8Array, o: number, len: number, link: FrameLink): number {
  if (link === 'ip') return len >= 20 && b[o]! >> 4 === 4 ? o : -1;
  return len >= 34 && b[o + 12] === 0x08 && b[o + 13] === 0x00 && b[o + 14]! >> 4 === 4 ? o + 14 : -1;
}

/** The IPv6 header's offset in the frame, or -1 for a non-IPv6 frame. */
function ip6Start(b: Uint8Array, o: number, len: number, link: FrameLink): number {
  if (link === 'ip') return len >= 40 && b[o]! >> 4 === 6 ? o : -1;
  return len >= 54 && b[o + 12] === 0x86 && b[o + 13] === 0xdd && b[o + 14]! >> 4 === 6 ? o + 14 : -1;
}

/** libpcap's `ip6 proto P`: the next header, or the header after a fragment header. */
function ip6ProtoIs(b: Uint8Array, ip6: number, end: number, proto: number): boolean {
  const next = b[ip6 + 6];
  return next === proto || (next === 44 && ip6 + 40 < end && b[ip6 + 40] === proto);
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst';

function isArp(b: Uint8Array, o: number, len: number, link: FrameLink): boolean {
  return link === 'ethernet' && len >= 14 && b[o + 12] === 0x08 && b[o + 13] === 0x06;
}

function protoIs(proto: number): FramePredicate {
  return (b, o, len, link) => {
    const ip = ipStart(b, o, len, link);
    return ip >= 0 && b[ip + 9] === proto;
  };
}

function proto6Is(proto: number): FramePredicate {
  return (b, o, len, link) => {
    const ip6 = ip6Start(b, o, len, link);
    return ip6 >= 0 && ip6ProtoIs(b, ip6, o + len, proto);
  };
}

/** tcp, udp: over IPv4 or IPv6. */
function protoEitherIs(proto: number): FramePredicate {
  const v4 = protoIs(proto);
  const v6 = proto6Is(proto);
  return (b, o, len, link) => v4(b, o, len, link) || v6(b, o, len, link);
}

function addr6Match(dir: Dir, net: Uint8Array, prefix: number): FramePredicate {
  return (b, o, len, link) => {
    const ip6 = ip6Start(b, o, len, link);
    if (ip6 < 0) return false;
    const s = () => ipv6PrefixMatch(b, ip6 + 8, net, 0, prefix);
    const d = () => ipv6PrefixMatch(b, ip6 + 24, net, 0, prefix);
    return dir === 'src' ? s() : dir === 'dst' ? d() : dir === 'src and dst' ? s() && d() : s() || d();
  };
}

function addrMatch(dir: Dir, net: number, mask: number): FramePredicate {
  const m = (a: number) => ((a & mask) >>> 0) === net;
  return (b, o, len, link) => {
    let s: number;
    let d: number;
    const ip = ipStart(b, o, len, link);
    if (ip >= 0) {
      s = u32(b, ip + 12);
      d = u32(b, ip + 16);
    } else if (isArp(b, o, len, link) && len >= 42) {
      // tcpdump's `host` matches ARP's sender and target protocol addresses too.
      s = u32(b, o + 28);
      d = u32(b, o + 38);
    } else {
      return false;
    }
    return dir === 'src' ? m(s) : dir === 'dst' ? m(d) : dir === 'src and dst' ? m(s) && m(d) : m(s) || m(d);
  };
}

function portMatch(dir: Dir, lo: number, hi: number, proto: number | null): FramePredicate {
  const m = (p: number) => p >= lo && p <= hi;
  return (b, o, len, link) => {
    const ip = ipStart(b, o, len, link);
    if (ip < 0) {
      // IPv6: TCP or UDP right after the fixed header, as libpcap's port test reads it.
      const ip6 = ip6Start(b, o, len, link);
      if (ip6 < 0) return false;
      const nh = b[ip6 + 6]!;
      if ((nh !== 6 && nh !== 17) || (proto !== null && nh !== proto) || ip6 + 44 > o + len) return false;
      const s6 = u16(b, ip6 + 40);
      const d6 = u16(b, ip6 + 42);
      return dir === 'src' ? m(s6) : dir === 'dst' ? m(d6) : dir === 'src and dst' ? m(s6) && m(d6) : m(s6) || m(d6);
    }
    const pr = b[ip + 9]!;
    if (pr !== 6 && pr !== 17) return false;
    if (proto !== null && pr !== proto) return false;
    if ((u16(b, ip + 6) & 0x1fff) !== 0) return false; // a later fragment has no ports
    const l4 = ip + (b[ip]! & 15) * 4;
    if (l4 + 4 > o + len) return false;
    const s = u16(b, l4);
    const d = u16(b, l4 + 2);
    return dir === 'src' ? m(s) : dir === 'dst' ? m(d) : dir === 'src and dst' ? m(s) && m(d) : m(s) || m(d);
  };
}

function etherMatch(dir: Dir, macBytes: number[]): FramePredicate {
  const at = (b: Uint8Array, p: number) => macBytes.every((x, i) => b[p + i] === x);
  return (b, o, len, link) => {
    if (link !== 'ethernet' || len < 14) return false;
    const d = at(b, o);
    const s = at(b, o + 6);
    return dir === 'src' ? s : dir === 'dst' ? d : dir === 'src and dst' ? s && d : s || d;
  };
}

// ------------------------------------------------------------------------------ parsing

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(&&|\|\||[()!]|[^\s()!&|]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    m = re.exec(text);
    if (m === null) {
      if (text.slice(at).trim() === '') break;
      throw new FilterSyntaxError(`syntax error in filter expression near ${JSON.stringify(text.slice(at).trim())}`);
    }
    tokens.push(m[1]!);
    at = re.lastIndex;
  }
  return tokens;
}

function parseAddr(text: string): number | null {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  let v = 0;
  for (let i = 0; i < 4; i++) v = v * 256 + Number(parts[i] ?? 0);
  return v >>> 0;
}

function parsePort(text: string): number {
  const named: Record<string, number> = { echo: 7, discard: 9, chargen: 19, ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, https: 443, bootps: 67, bootpc: 68 };
  const n = /^\d{1,5}$/.test(text) ? Number(text) : named[text];
  if (n === undefined || n > 65535) throw new FilterSyntaxError(`invalid port ${JSON.stringify(text)}: expected a number from 0 to 65535`);
  return n;
}

class Parser {
  private i = 0;
  constructor(private readonly t: string[]) {}

  parse(): FramePredicate {
    if (this.t.length === 0) return () => true;
    const p = this.or();
    if (this.i < this.t.length) throw new FilterSyntaxError(`syntax error in filter expression: unexpected ${JSON.stringify(this.t[this.i])}`);
    return p;
  }

  private peek(): string | undefined {
    return this.t[this.i];
  }

  private next(what: string): string {
    const tok = this.t[this.i++];
    if (tok === undefined) throw new FilterSyntaxError(`syntax error in filter expression: ${what} expected at the end`);
    return tok;
  }

  private or(): FramePredicate {
    let left = this.and();
    while (this.peek() === 'or' || this.peek() === '||') {
      this.i++;
      const a = left;
      const b = this.and();
      left = (buf, o, l, k) => a(buf, o, l, k) || b(buf, o, l, k);
    }
    return left;
  }

  private and(): FramePredicate {
    let left = this.not();
    while (this.peek() === 'and' || this.peek() === '&&') {
      this.i++;
      const a = left;
      const b = this.not();
      left = (buf, o, l, k) => a(buf, o, l, k) && b(buf, o, l, k);
    }
    return left;
  }

  private not(): FramePredicate {
    if (this.peek() === 'not' || this.peek() === '!') {
      this.i++;
      const a = this.not();
      return (buf, o, l, k) => !a(buf, o, l, k);
    }
    if (this.peek() === '(') {
      this.i++;
      const inner = this.or();
      if (this.next('")"') !== ')') throw new FilterSyntaxError('syntax error in filter expression: ")" expected');
      return inner;
    }
    return this.primitive();
  }

  private primitive(): FramePredicate {
    let tok = this.next('a primitive (host, net, port, tcp, ...)');
    let proto: number | null = null;
    if (tok === 'arp') return isArp;
    if (tok === 'ip') {
      if (!this.continuesPrimitive()) return (b, o, l, k) => ipStart(b, o, l, k) >= 0;
      tok = this.next('a primitive');
    } else if (tok === 'ip6') {
      if (!this.continuesPrimitive()) return (b, o, l, k) => ip6Start(b, o, l, k) >= 0;
      tok = this.next('a primitive');
    } else if (tok === 'icmp') {
      return protoIs(1);
    } else if (tok === 'icmp6') {
      return proto6Is(58);
    } else if (tok === 'igmp') {
      return protoIs(2);
    } else if (tok === 'tcp' || tok === 'udp') {
      proto = tok === 'tcp' ? 6 : 17;
      if (!this.continuesPrimitive()) return protoEitherIs(proto);
      tok = this.next('a primitive');
    }
    if (tok === 'ether') {
      let dir: Dir = 'src or dst';
      let what = this.next('host, src or dst after ether');
      if (what === 'src' || what === 'dst') {
        dir = what;
        what = this.next('host after ether src/dst');
        if (what !== 'host') return etherMatch(dir, this.mac(what));
      }
      if (what !== 'host') throw new FilterSyntaxError(`syntax error in filter expression: "ether ${what}" (use ether host MAC, ether src MAC or ether dst MAC)`);
      return etherMatch(dir, this.mac(this.next('a MAC address')));
    }
    let dir: Dir = 'src or dst';
    if (tok === 'src' || tok === 'dst') {
      dir = tok;
      const after = this.peek();
      if ((after === 'or' || after === 'and') && (this.t[this.i + 1] === 'src' || this.t[this.i + 1] === 'dst') && this.t[this.i + 1] !== tok) {
        dir = after === 'or' ? 'src or dst' : 'src and dst';
        this.i += 2;
      }
      tok = this.next('host, net, port or portrange after src/dst');
    }
    switch (tok) {
      case 'host': {
        const text = this.next('an address after host');
        if (text.includes(':')) {
          const a6 = parseIpv6(text);
          if (a6 === null) throw new FilterSyntaxError(`invalid host ${JSON.stringify(text)}: expected an IPv6 address like 2001:db8::1`);
          return addr6Match(dir, a6, 128);
        }
        const a = parseAddr(text);
        if (a === null || text.split('.').length !== 4) throw new FilterSyntaxError(`invalid host ${JSON.stringify(text)}: expected an IPv4 address like 192.0.2.1 or an IPv6 address like 2001:db8::1`);
        return addrMatch(dir, a, 0xffffffff);
      }
      case 'net': return this.net(dir);
      case 'port': return portMatch(dir, ...this.single(parsePort(this.next('a port after port'))), proto);
      case 'portrange': {
        const text = this.next('a range after portrange');
        const m = /^([^-]+)-([^-]+)$/.exec(text);
        if (m === null) throw new FilterSyntaxError(`invalid portrange ${JSON.stringify(text)}: expected LOW-HIGH like 6000-6010`);
        const lo = parsePort(m[1]!);
        const hi = parsePort(m[2]!);
        return portMatch(dir, Math.min(lo, hi), Math.max(lo, hi), proto);
      }
      default: {
        // tcpdump takes a bare address as "host ADDR".
        if (tok.includes(':')) {
          const a6 = parseIpv6(tok);
          if (a6 !== null) return addr6Match(dir, a6, 128);
        }
        const a = parseAddr(tok);
        if (a !== null && tok.split('.').length === 4) return addrMatch(dir, a, 0xffffffff);
        throw new FilterSyntaxError(`syntax error in filter expression: unknown primitive ${JSON.stringify(tok)}`);
      }
    }
  }

  private single(p: number): [number, number] {
    return [p, p];
  }

  /** After ip/tcp/udp: does a qualifier follow (tcp port 80, ip host X) or is it the protocol alone? */
  private continuesPrimitive(): boolean {
    const n = this.peek();
    return n === 'src' || n === 'dst' || n === 'host' || n === 'port' || n === 'portrange' || n === 'net';
  }

  private net(dir: Dir): FramePredicate {
    const text = this.next('a network after net');
    if (text.includes(':')) return this.net6(dir, text);
    let addrText = text;
    let prefix: number;
    const slash = text.indexOf('/');
    if (slash >= 0) {
      addrText = text.slice(0, slash);
      const p = text.slice(slash + 1);
      if (!/^\d{1,2}$/.test(p) || Number(p) > 32) throw new FilterSyntaxError(`invalid net ${JSON.stringify(text)}: the prefix length is 0 to 32`);
      prefix = Number(p);
    } else {
      prefix = Math.min(32, 8 * addrText.split('.').length);
    }
    const a = parseAddr(addrText);
    if (a === null) throw new FilterSyntaxError(`invalid net ${JSON.stringify(text)}: expected N.N.N.N/LEN like 192.0.2.0/24`);
    let mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if (slash < 0 && this.peek() === 'mask') {
      this.i++;
      const mtext = this.next('a mask after mask');
      const m = parseAddr(mtext);
      if (m === null || mtext.split('.').length !== 4) throw new FilterSyntaxError(`invalid mask ${JSON.stringify(mtext)}: expected a dotted mask like 255.255.255.0`);
      mask = m;
    }
    if (((a & mask) >>> 0) !== a) throw new FilterSyntaxError(`non-network bits set in ${JSON.stringify(text)}`);
    return addrMatch(dir, a, mask);
  }

  /** net 2001:db8::/32 (without a prefix length: the one address, /128, as libpcap takes it). */
  private net6(dir: Dir, text: string): FramePredicate {
    const slash = text.indexOf('/');
    const a6 = parseIpv6(slash >= 0 ? text.slice(0, slash) : text);
    const p = slash >= 0 ? text.slice(slash + 1) : '128';
    if (a6 === null || !/^\d{1,3}$/.test(p) || Number(p) > 128) throw new FilterSyntaxError(`invalid net ${JSON.stringify(text)}: expected an IPv6 prefix like 2001:db8::/32`);
    const prefix = Number(p);
    for (let bit = prefix; bit < 128; bit++) {
      if ((a6[bit >> 3]! & (0x80 >> (bit & 7))) !== 0) throw new FilterSyntaxError(`non-network bits set in ${JSON.stringify(text)}`);
    }
    return addr6Match(dir, a6, prefix);
  }

  private mac(text: string): number[] {
    const parts = text.split(/[:.-]/);
    if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) throw new FilterSyntaxError(`invalid MAC address ${JSON.stringify(text)}: expected six hex bytes like 00:00:5e:00:53:01`);
    return parts.map((p) => parseInt(p, 16));
  }
}

/** Compile a tcpdump-style expression; "" matches everything. Throws FilterSyntaxError only. */
export function compileFilter(expression: string): FramePredicate {
  return new Parser(tokenize(expression)).parse();
}

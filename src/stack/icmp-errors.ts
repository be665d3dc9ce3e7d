/**
 * What an ICMP error (RFC 792) about one of our datagrams means to the transport that sent
 * it, in the family-neutral terms of `TransportError`: its kind, the errno Linux's
 * icmp_err_convert gives it, and whether that error is hard.
 */

import { IcmpType, UnreachableCode } from '../wire/icmp.js';
import type { TransportErrorKind } from './network.js';

/** Linux's icmp_err_convert (net/ipv4/icmp.c): errno and whether the error is "hard". */
const UNREACH_ERRORS: ReadonlyArray<readonly [string, boolean]> = [
  ['ENETUNREACH', false], // 0 net unreachable
  ['EHOSTUNREACH', false], // 1 host unreachable
  ['ENOPROTOOPT', true], // 2 protocol unreachable
  ['ECONNREFUSED', true], // 3 port unreachable
  ['EMSGSIZE', false], // 4 fragmentation needed
  ['EOPNOTSUPP', false], // 5 source route failed
  ['ENETUNREACH', true], // 6 net unknown
  ['EHOSTDOWN', true], // 7 host unknown
  ['ENONET', true], // 8 source host isolated
  ['ENETUNREACH', true], // 9 net administratively prohibited
  ['EHOSTUNREACH', true], // 10 host administratively prohibited
  ['ENETUNREACH', false], // 11 net unreachable for TOS
  ['EHOSTUNREACH', false], // 12 host unreachable for TOS
  ['EHOSTUNREACH', true], // 13 communication administratively prohibited
  ['EHOSTUNREACH', true], // 14 host precedence violation
  ['EHOSTUNREACH', true], // 15 precedence cutoff
];

export interface IcmpErrorMeaning {
  kind: TransportErrorKind;
  errno: string;
  hard: boolean;
  /** Next-hop MTU of a Fragmentation Needed (RFC 1191), else 0. */
  mtu: number;
}

/** The meaning of an ICMP error of `type` and `code` whose second word is `rest`. */
export function icmpErrorMeaning(type: number, code: number, rest: number, out: IcmpErrorMeaning): IcmpErrorMeaning {
  out.mtu = 0;
  if (type === IcmpType.DestinationUnreachable) {
    const e = UNREACH_ERRORS[code];
    out.errno = e?.[0] ?? 'EHOSTUNREACH';
    out.hard = e?.[1] ?? false;
    if (code === UnreachableCode.FragmentationNeeded) {
      out.kind = 'packet-too-big';
      out.mtu = rest & 0xffff;
    } else if (code === UnreachableCode.Port) out.kind = 'port-unreachable';
    else if (code === UnreachableCode.Protocol) out.kind = 'protocol-unreachable';
    else if (code === UnreachableCode.Net || code === UnreachableCode.NetUnknown) out.kind = 'net-unreachable';
    else out.kind = 'host-unreachable';
    return out;
  }
  if (type === IcmpType.TimeExceeded) {
    out.kind = 'time-exceeded';
    out.errno = 'EHOSTUNREACH';
    out.hard = false;
    return out;
  }
  if (type === IcmpType.ParameterProblem) {
    out.kind = 'parameter-problem';
    out.errno = 'EPROTO';
    out.hard = true;
    return out;
  }
  // Source Quench (deprecated, RFC 6633) and anything else: nothing to report.
  out.kind = 'other';
  out.errno = '';
  out.hard = false;
  return out;
}

/** The errno a connected UDP socket reports for this error, or null when it is soft (not reported). */
export function icmpErrnoFor(type: number, code: number): string | null {
  const m = icmpErrorMeaning(type, code, 0, { kind: 'other', errno: '', hard: false, mtu: 0 });
  return m.hard ? m.errno : null;
}

/**
 * The resolver's errors, shaped as Node's dns module makes them: an Error whose message is
 * "<syscall> <code> <hostname>", with `code`, `syscall` and `hostname` (and `errno` where Node
 * sets one: getaddrinfo's ENOTFOUND and ENODATA).
 */

/** Node's dns error codes (dns.NODATA, dns.NOTFOUND, ...), the ones this resolver reports. */
export const NODATA = 'ENODATA';
export const FORMERR = 'EFORMERR';
export const SERVFAIL = 'ESERVFAIL';
export const NOTFOUND = 'ENOTFOUND';
export const NOTIMP = 'ENOTIMP';
export const REFUSED = 'EREFUSED';
export const BADNAME = 'EBADNAME';
export const BADFAMILY = 'EBADFAMILY';
export const BADRESP = 'EBADRESP';
export const CONNREFUSED = 'ECONNREFUSED';
export const TIMEOUT = 'ETIMEOUT';
export const CANCELLED = 'ECANCELLED';

export interface DnsError extends Error {
  code: string;
  errno?: number;
  syscall: string;
  hostname: string;
}

/** libuv's EAI_* numbers, which Node puts in err.errno for getaddrinfo failures. */
const GETADDRINFO_ERRNO: Record<string, number> = { ENOTFOUND: -3008, ENODATA: -3007 };

export function dnsError(code: string, syscall: string, hostname: string): DnsError {
  const err = new Error(`${syscall} ${code}${hostname !== '' ? ` ${hostname}` : ''}`) as DnsError;
  if (syscall === 'getaddrinfo' && GETADDRINFO_ERRNO[code] !== undefined) err.errno = GETADDRINFO_ERRNO[code];
  err.code = code;
  err.syscall = syscall;
  err.hostname = hostname;
  return err;
}

/** A TypeError/Error with Node's internal code (ERR_INVALID_ARG_TYPE, ...). */
export function argError(code: string, message: string, Ctor: ErrorConstructor | TypeErrorConstructor = TypeError): Error & { code: string } {
  const err = new Ctor(message) as Error & { code: string };
  err.code = code;
  return err;
}

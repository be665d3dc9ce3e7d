/**
 * Node's errors, as lib/internal/errors.js and lib/internal/validators.js make them, for the
 * net and dgram APIs: the same classes (TypeError, RangeError, Error), `code`, message text,
 * and for system errors `errno` (negative, as libuv's), `syscall`, `address`, `port`. Code
 * written against node:net (and Node's own tests) checks these fields and messages.
 */

import { constants as osConstants } from 'node:os';
import { inspect, getSystemErrorMap } from 'node:util';

/** An Error with Node's system-error fields (what net.Socket's 'error' carries). */
export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  localAddress?: string;
  localPort?: number;
  hostname?: string;
}

/** An Error with Node's `code` (ERR_*). */
export interface CodedError extends Error {
  code: string;
}

type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/**
 * One of Node's internal errors: `name` stays the base class's, `code` is an own property,
 * and the stack (and toString) start "TypeError [ERR_X]: message", as Node's do.
 */
export function nodeError(Base: ErrorClass, code: string, message: string): CodedError {
  const err = new Base(message) as CodedError;
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(err, 'name', { value: `${Base.name} [${code}]`, configurable: true, writable: true, enumerable: false });
  void err.stack; // the stack is formatted on first access: with the decorated name
  delete (err as { name?: string }).name;
  Object.defineProperty(err, 'toString', {
    value(this: Error) {
      return `${this.name} [${code}]: ${this.message}`;
    },
    configurable: true, writable: true, enumerable: false,
  });
  return err;
}

// ---------------------------------------------------------------- ERR_* (internal/errors.js)

/** Node's determineSpecificType: how a received value is described in messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      return `type number (${value})`;
    case 'boolean':
      return `type boolean (${value})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${(value as { name: string }).name}`;
    case 'object': {
      const ctor = (value as { constructor?: { name?: string } }).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return inspect(value, { depth: -1 });
    }
    case 'string': {
      let s = value;
      if (s.length > 28) s = `${s.slice(0, 25)}...`;
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`;
    }
    default: {
      let s = inspect(value, { colors: false });
      if (s.length > 28) s = `${s.slice(0, 25)}...`;
      return `type ${typeof value} (${s})`;
    }
  }
}

function formatList(list: string[], type = 'and'): string {
  if (list.length <= 1) return list.join('');
  if (list.length === 2) return `${list[0]} ${type} ${list[1]}`;
  return `${list.slice(0, -1).join(', ')}, ${type} ${list[list.length - 1]}`;
}

const PRIMITIVE_TYPES = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];
const CLASS_NAME = /^([A-Z][a-z0-9]*)+$/;

export function ERR_INVALID_ARG_TYPE(name: string, expected: string | string[], actual: unknown): CodedError {
  const list = Array.isArray(expected) ? expected : [expected];
  let msg = 'The ';
  if (name.endsWith(' argument')) msg += `${name} `;
  else msg += `"${name}" ${name.includes('.') ? 'property' : 'argument'} `;
  msg += 'must be ';
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const value of list) {
    if (PRIMITIVE_TYPES.includes(value)) types.push(value.toLowerCase());
    else if (CLASS_NAME.test(value)) instances.push(value);
    else other.push(value);
  }
  if (instances.length > 0) {
    const pos = types.indexOf('object');
    if (pos !== -1) {
      types.splice(pos, 1);
      instances.push('Object');
    }
  }
  if (types.length > 0) {
    msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) msg += ' or ';
  }
  if (instances.length > 0) {
    msg += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) msg += ' or ';
  }
  if (other.length > 0) {
    if (other.length > 1) msg += `one of ${formatList(other, 'or')}`;
    else {
      if (other[0]!.toLowerCase() !== other[0]) msg += 'an ';
      msg += other[0];
    }
  }
  msg += `. Received ${describeValue(actual)}`;
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', msg);
}

export function ERR_INVALID_ARG_VALUE(name: string, value: unknown, reason = 'is invalid'): CodedError {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const type = name.includes('.') ? 'property' : 'argument';
  return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${type} '${name}' ${reason}. Received ${inspected}`);
}

export function ERR_OUT_OF_RANGE(name: string, range: string, input: unknown): CodedError {
  let received: string;
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) {
    received = String(input).replace(/\B(?=(\d{3})+(?!\d))/g, '_');
  } else if (typeof input === 'bigint') {
    received = `${String(input)}n`;
  } else {
    received = inspect(input);
  }
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${received}`);
}

export function ERR_MISSING_ARGS(...args: Array<string | string[]>): CodedError {
  const wrapped = args.map((a) => (Array.isArray(a) ? a.map((x) => `"${x}"`).join(' or ') : `"${a}"`));
  return nodeError(TypeError, 'ERR_MISSING_ARGS', `The ${formatList(wrapped)} argument${args.length > 1 ? 's' : ''} must be specified`);
}

export function ERR_SOCKET_BAD_PORT(name: string, port: unknown, allowZero = true): CodedError {
  return nodeError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describeValue(port)}.`);
}

export function ERR_INVALID_IP_ADDRESS(ip: unknown): CodedError {
  return nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(ip)}`);
}

export function ERR_INVALID_ADDRESS_FAMILY(family: unknown, host: unknown, port: unknown): CodedError {
  const err = nodeError(RangeError, 'ERR_INVALID_ADDRESS_FAMILY', `Invalid address family: ${String(family)} ${String(host)}:${String(port)}`);
  return Object.assign(err, { host, port });
}

export const ERR_SOCKET_CLOSED = (): CodedError => nodeError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
export const ERR_SOCKET_CLOSED_BEFORE_CONNECTION = (): CodedError =>
  nodeError(Error, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established');
export const ERR_SERVER_NOT_RUNNING = (): CodedError => nodeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.');
export const ERR_SERVER_ALREADY_LISTEN = (): CodedError =>
  nodeError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');

// ---------------------------------------------------------------- validators (internal/validators.js)

export function validateNumber(value: unknown, name: string, min?: number, max?: number): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if ((min !== undefined && value < min) || (max !== undefined && value > max) || ((min !== undefined || max !== undefined) && Number.isNaN(value))) {
    const range = `${min !== undefined ? `>= ${min}` : ''}${min !== undefined && max !== undefined ? ' && ' : ''}${max !== undefined ? `<= ${max}` : ''}`;
    throw ERR_OUT_OF_RANGE(name, range, value);
  }
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw ERR_INVALID_ARG_TYPE(name, 'boolean', value);
}

export function validateFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw ERR_INVALID_ARG_TYPE(name, 'Function', value);
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', value);
}

export function validateAbortSignal(signal: unknown, name: string): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

/** A port number (or numeric string) from 0 (or 1) to 65535; its integer value. */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if ((typeof port !== 'number' && typeof port !== 'string')
    || (typeof port === 'string' && port.trim().length === 0)
    || +port !== (+port >>> 0)
    || +port > 0xffff
    || (+port === 0 && !allowZero)) {
    throw ERR_SOCKET_BAD_PORT(name, port, allowZero);
  }
  return +port | 0;
}

const TIMEOUT_MAX = 2 ** 31 - 1;

/** A timer duration as timers.enroll checks it (setTimeout on a socket). */
export function getTimerDuration(msecs: unknown, name: string): number {
  validateNumber(msecs, name);
  if (msecs < 0 || !Number.isFinite(msecs)) throw ERR_OUT_OF_RANGE(name, 'a non-negative finite number', msecs);
  if (msecs > TIMEOUT_MAX) {
    process.emitWarning(`${msecs} does not fit into a 32-bit signed integer.\nTimer duration was truncated to ${TIMEOUT_MAX}.`, 'TimeoutOverflowWarning');
    return TIMEOUT_MAX;
  }
  return msecs;
}

// ---------------------------------------------------------------- system errors

const ERRNO = osConstants.errno as Record<string, number | undefined>;
/** Codes libuv and c-ares have that Linux's errno.h has not. */
const EXTRA_ERRNO: Record<string, number> = { ENOTFOUND: -3008, EAI_AGAIN: -3001 };

/** The negative errno Node reports for a code (ECONNREFUSED -> -111 on Linux). */
export function errnoOf(code: string): number {
  const n = ERRNO[code];
  return n !== undefined ? -n : EXTRA_ERRNO[code] ?? -1;
}

let uvMessages: Map<number, [string, string]> | null = null;

/** libuv's description of an error ("address already in use"). */
function uvMessage(code: string): string {
  uvMessages ??= getSystemErrorMap();
  return uvMessages.get(errnoOf(code))?.[1] ?? 'unknown error';
}

function systemError(message: string, code: string, syscall: string): NetError {
  const err = new Error(message) as NetError;
  err.errno = errnoOf(code);
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** Node's ErrnoException: "read ECONNRESET", no address. */
export function errnoException(code: string, syscall: string, original?: string): NetError {
  return systemError(original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`, code, syscall);
}

/** Node's ExceptionWithHostPort: "connect ECONNREFUSED 192.0.2.2:80", with address and port. */
export function exceptionWithHostPort(code: string, syscall: string, address: string | undefined, port?: number, additional?: string): NetError {
  let details = '';
  if (port !== undefined && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  if (additional) details += ` - Local (${additional})`;
  const err = systemError(`${syscall} ${code}${details}`, code, syscall);
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** Node's UVExceptionWithHostPort: "listen EADDRINUSE: address already in use 0.0.0.0:80". */
export function uvExceptionWithHostPort(code: string, syscall: string, address: string | undefined, port?: number): NetError {
  let details = '';
  if (port !== undefined && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const err = systemError(`${syscall} ${code}: ${uvMessage(code)}${details}`, code, syscall);
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** Node's DNSException: "getaddrinfo ENOTFOUND example.invalid". */
export function dnsException(code: string, syscall: string, hostname?: string): NetError {
  const err = systemError(`${syscall} ${code}${hostname ? ` ${hostname}` : ''}`, code, syscall);
  if (hostname) err.hostname = hostname;
  return err;
}

/** Node's argument shuffling for connect() and listen() (lib/net.js normalizeArgs). */

/** Loose options as the user passed them (validated where they are used). */
export type LooseOptions = Record<string, unknown>;

export type Callback = (...args: never[]) => unknown;

export function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

/** A string that is not a number: a path (IPC), which pstack does not have. */
export function isPipeName(s: unknown): s is string {
  return typeof s === 'string' && toNumber(s) === false;
}

/**
 * (options[, cb]) | (path[, cb]) | ([port][, host][, ...][, cb]) -> [options, cb | null], as
 * Node's normalizeArgs. The options object is the caller's own when one was given.
 */
export function normalizeArgs(args: readonly unknown[]): [LooseOptions, Callback | null] {
  if (args.length === 0) return [{}, null];
  const arg0 = args[0];
  let options: LooseOptions = {};
  if (typeof arg0 === 'object' && arg0 !== null) options = arg0 as LooseOptions;
  else if (isPipeName(arg0)) options.path = arg0;
  else {
    options.port = arg0;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  return [options, typeof cb === 'function' ? (cb as Callback) : null];
}

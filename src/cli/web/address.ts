/** The --web HOST:PORT value: where the web page is served, and nowhere else. */

import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface WebAddress {
  /** An IP address or "localhost", without brackets. */
  host: string;
  /** 0: any free port (the server says which). */
  port: number;
}

const EXPECTED = 'expected HOST:PORT, like 127.0.0.1:8080 or [::1]:8080';

export function parseWebAddress(text: string): WebAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) throw new UsageError(`invalid --web ${JSON.stringify(text)}: ${EXPECTED}`);
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (m[1] !== undefined ? isIP(host) !== 6 : host !== 'localhost' && isIP(host) !== 4) {
    throw new UsageError(`invalid --web ${JSON.stringify(text)}: the host must be an IP address or localhost (${EXPECTED})`);
  }
  if (port > 65535) throw new UsageError(`invalid --web ${JSON.stringify(text)}: the port must be from 0 to 65535`);
  return { host, port };
}

export function webUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/**
 * Whether a request's Host header names the page by address, as a browser does when the user
 * typed the URL the server printed. A page on another site can make a browser send requests
 * to 127.0.0.1 through a host name of its own that resolves there (DNS rebinding); those
 * requests carry that name, so refusing names other than IP literals and localhost keeps
 * foreign pages from reading the capture.
 */
export function hostHeaderAllowed(header: string | undefined): boolean {
  if (header === undefined) return false;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header);
  if (m === null) return false;
  if (m[1] !== undefined) return isIP(m[1]) === 6;
  const host = m[2]!.toLowerCase();
  return host === 'localhost' || isIP(host) === 4;
}

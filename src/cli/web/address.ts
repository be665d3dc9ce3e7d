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

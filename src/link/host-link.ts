/**
 * Host-side configuration of a link, through iproute2's `ip` command.
 *
 * pstack runs its own stack on the tap; these helpers only prepare the kernel's side of it
 * (bring it up, give the host an address) so the host can talk to pstack. They are used by the
 * CLI and the end-to-end tests; the device classes never call them.
 */

import { ipv6ToString, type Ipv6Cidr } from '../wire/addr6.js';
import { execFile } from 'node:child_process';

/** Kernel interface names: 1 to 15 bytes, no '/', whitespace or ':'; we also refuse a leading '-'. */
const INTERFACE_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/;
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

export class HostLinkError extends Error {
  constructor(
    message: string,
    /** The `ip` arguments that failed. */
    readonly args: readonly string[],
    /** What `ip` printed on stderr, trimmed. */
    readonly stderr: string,
    /** Exit code of `ip`, or null when it could not be run at all. */
    readonly exitCode: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HostLinkError';
  }
}

interface IpResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `ip ARGS`; resolves with the exit code instead of rejecting, so callers can interpret it. */
function runIp(args: readonly string[]): Promise<IpResult> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ exitCode: 0, stdout, stderr });
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === 'number') {
        resolve({ exitCode: code, stdout, stderr });
        return;
      }
      const why =
        code === 'ENOENT'
          ? "the 'ip' command was not found (install iproute2)"
          : error.killed
            ? "'ip' did not finish within 10 s"
            : `'ip' could not be run: ${error.message}`;
      reject(new HostLinkError(`ip ${args.join(' ')}: ${why}`, args, String(stderr).trim(), null, { cause: error }));
    });
  });
}

async function runIpOrThrow(args: readonly string[], what: string): Promise<IpResult> {
  const result = await runIp(args);
  if (result.exitCode !== 0) {
    const stderr = result.stderr.trim();
    throw new HostLinkError(
      `${what} failed (ip ${args.join(' ')}: exit ${result.exitCode}${stderr ? `: ${stderr}` : ''})`,
      args,
      stderr,
      result.exitCode,
    );
  }
  return result;
}

function checkName(name: string): void {
  if (!INTERFACE_NAME.test(name)) throw new RangeError(`invalid interface name: ${JSON.stringify(name)}`);
}

function checkCidr(cidr: string): void {
  const m = IPV4_CIDR.exec(cidr);
  const valid =
    m !== null && m.slice(1, 5).every((octet) => Number(octet) <= 255) && Number(m[5]) >= 0 && Number(m[5]) <= 32;
  if (!valid) throw new RangeError(`invalid IPv4 address/prefix: ${JSON.stringify(cidr)} (expected e.g. 192.0.2.1/24)`);
}

/**
 * `ip -6 addr add CIDR dev NAME nodad`: the kernel's side uses the address at once (no
 * Duplicate Address Detection wait); one already there is not an error.
 */
export async function addAddress6(name: string, cidr: Ipv6Cidr): Promise<void> {
  checkName(name);
  const text = `${ipv6ToString(cidr.address)}/${cidr.prefixLength}`;
  const args = ['-6', 'addr', 'add', text, 'dev', name, 'nodad'];
  const result = await runIp(args);
  if (result.exitCode === 0 || /File exists|already assigned/i.test(result.stderr)) return;
  const stderr = result.stderr.trim();
  throw new HostLinkError(
    `adding ${text} to ${name} failed (ip ${args.join(' ')}: exit ${result.exitCode}${stderr ? `: ${stderr}` : ''})`,
    args,
    stderr,
    result.exitCode,
  );
}

/** Whether an interface of this name exists in the current network namespace. */
export async function linkExists(name: string): Promise<boolean> {
  checkName(name);
  const result = await runIp(['link', 'show', 'dev', name]);
  if (result.exitCode === 0) return true;
  if (/does not exist|Cannot find device/i.test(result.stderr)) return false;
  throw new HostLinkError(
    `cannot tell whether ${name} exists (ip link show: exit ${result.exitCode}: ${result.stderr.trim()})`,
    ['link', 'show', 'dev', name],
    result.stderr.trim(),
    result.exitCode,
  );
}

/** `ip link set dev NAME up`. */
export async function linkUp(name: string): Promise<void> {
  checkName(name);
  await runIpOrThrow(['link', 'set', 'dev', name, 'up'], `bringing ${name} up`);
}

/** `ip link set dev NAME mtu MTU`: the host side of a tap must match the MTU pstack uses. */
export async function setMtu(name: string, mtu: number): Promise<void> {
  checkName(name);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`invalid MTU: ${mtu}`);
  await runIpOrThrow(['link', 'set', 'dev', name, 'mtu', String(mtu)], `setting the MTU of ${name}`);
}

/** `ip addr add CIDR dev NAME`; an address that is already there ("File exists", or "Address already assigned" with newer iproute2) is not an error. */
export async function addAddress(name: string, cidr: string): Promise<void> {
  checkName(name);
  checkCidr(cidr);
  const args = ['addr', 'add', cidr, 'dev', name];
  const result = await runIp(args);
  if (result.exitCode === 0 || /File exists|already assigned/i.test(result.stderr)) return;
  const stderr = result.stderr.trim();
  throw new HostLinkError(
    `adding ${cidr} to ${name} failed (ip ${args.join(' ')}: exit ${result.exitCode}${stderr ? `: ${stderr}` : ''})`,
    args,
    stderr,
    result.exitCode,
  );
}

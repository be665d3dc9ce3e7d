/** Errors the CLI reports as one line and an exit code, never as a stack trace. */

export class UsageError extends Error {
  readonly exitCode = 2;
}

export class FatalError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Turn a failure to open a TAP into the one line a user needs to fix it. */
export function describeTapOpenError(err: unknown, tap: string): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  if (code === 'EPERM' || code === 'EACCES') return `permission denied opening TAP device ${tap}: run as root (or with CAP_NET_ADMIN)`;
  if (code === 'ENOENT' || code === 'ENODEV') return `cannot open TAP device ${tap}: /dev/net/tun is missing (load the tun module: modprobe tun)`;
  if (code === 'EBUSY') return `TAP device ${tap} is busy: another program has it open`;
  if (code === 'EINVAL') return `cannot open TAP device ${tap}: the name is taken by an interface that is not a TAP`;
  const msg = e instanceof Error ? e.message : String(err);
  return `cannot open TAP device ${tap}: ${msg}`;
}

/** The error user calls throw (connect, listen): a POSIX-style code as Node's net errors carry. */

export class TcpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

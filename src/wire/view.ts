/**
 * The shared shape of every wire view: a window [offset, offset+length) onto a buffer the
 * caller owns. Views are reusable (`reset`) so the stack keeps one per layer instead of
 * allocating one per packet; accessors read fields in place and copy nothing.
 */

const EMPTY = new Uint8Array(0);

export abstract class WireView {
  constructor(
    public buf: Uint8Array = EMPTY,
    public offset = 0,
    public length = buf.length - offset,
  ) {}

  reset(buf: Uint8Array, offset = 0, length = buf.length - offset): this {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** null when the header can be read safely; otherwise the reason to drop it. */
  abstract check(): string | null;
}

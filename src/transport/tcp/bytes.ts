/**
 * Byte copying for the TCP buffers.
 *
 * JavaScript has no memcpy between typed arrays that avoids creating a view object:
 * `dst.set(src.subarray(a, b), pos)` allocates the (tiny, short-lived) subarray. For small
 * copies a plain loop is cheaper than that allocation; measured on Node 20 (x64) the loop
 * wins below ~32 bytes (23 ns vs 79 ns at 8 bytes) and `set` wins above (88 ns vs 2.9 µs
 * for 1460 bytes), so the threshold sits there.
 */

const SMALL_COPY = 32;

/** Copy n bytes src[srcPos..] -> dst[dstPos..]. Bounds are the caller's responsibility. */
export function copyBytes(src: Uint8Array, srcPos: number, dst: Uint8Array, dstPos: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstPos + i] = src[srcPos + i]!;
  } else if (srcPos === 0 && n === src.length) {
    dst.set(src, dstPos);
  } else {
    dst.set(src.subarray(srcPos, srcPos + n), dstPos);
  }
}

/** Smallest power of two >= n (n >= 1), for ring storage sizes. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Ring storage for the TCP buffers, lent out and taken back.
 *
 * A connection holds buffer storage only while it has bytes in flight or unread: an idle
 * connection holds none, so ten thousand idle connections cost no ring at all. Returned
 * storage waits in free lists shared by every connection, one per size (powers of two),
 * up to MAX_POOLED_BYTES in all: a request/response connection that drains its buffers after
 * each exchange reuses the same few arrays, and so does a bulk receiver whose application
 * reads each 64 KB segment as it comes (before, every such segment took a new, zero-filled
 * array and left one to the garbage collector). Reused storage is not cleared: a buffer only
 * ever reads back bytes it has written. (New storage is zero-filled, as every web-standard
 * allocation is: about 4 µs for 64 KiB and 25 µs for 1 MiB on Node 20, paid only when the
 * free lists have no array of the size.)
 *
 * A returned array must no longer be referenced by its old buffer, nor by any view still in
 * use: the buffers give storage back only when they hold no bytes (every view they handed
 * out is documented as invalid after the next write/acknowledge/consume).
 */
export const POOLED_STORAGE_SIZE = 4096;
/** Bound on the free lists: 4 MiB of spare storage at most. */
const MAX_POOLED_BYTES = 4 * 1024 * 1024;
/** Free lists by log2(size). */
const pools: Uint8Array[][] = [];
let pooledBytes = 0;
let pooledCount = 0;

/** The array standing for "no storage": zero length, shared, never written. */
export const NO_STORAGE = new Uint8Array(0);

/**
 * Where new storage comes from. The web-standard default zero-fills it; a host with memory
 * that need not be zeroed (Node's Buffer.allocUnsafeSlow) installs its own, since a buffer only
 * ever reads back bytes it has written.
 */
let allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size);

export function setStorageAllocator(allocator: (size: number) => Uint8Array): void {
  allocate = allocator;
}

/** Storage of `size` bytes (a power of two). Contents are arbitrary. */
export function takeStorage(size: number): Uint8Array {
  const b = pools[31 - Math.clz32(size)]?.pop();
  if (b !== undefined) {
    pooledBytes -= size;
    pooledCount--;
    return b;
  }
  return allocate(size);
}

/** Give storage back (NO_STORAGE is ignored). */
export function giveStorage(buf: Uint8Array): void {
  const size = buf.length;
  if (size === 0 || (size & (size - 1)) !== 0 || pooledBytes + size > MAX_POOLED_BYTES) return;
  const log = 31 - Math.clz32(size);
  (pools[log] ??= []).push(buf);
  pooledBytes += size;
  pooledCount++;
}

/**
 * Empty the free lists (the arrays go to the garbage collector): when connections have gone
 * and the stack gives their memory back, spare storage kept for reuse would be held for
 * nothing.
 */
export function trimStorage(): void {
  pools.length = 0;
  pooledBytes = 0;
  pooledCount = 0;
}

/** Bytes waiting in the free lists (at most MAX_POOLED_BYTES). */
export function pooledStorageBytes(): number {
  return pooledBytes;
}

/** Arrays waiting in the free lists (tests, diagnostics). */
export function pooledStorageCount(): number {
  return pooledCount;
}

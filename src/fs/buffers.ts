/**
 * Buffers reused from one pack or upload to the next. A backlog of small episodes otherwise leaves
 * 2–3 MiB of 1 MiB buffers per episode to the garbage collector, which frees such external memory
 * only once ~64 MiB of it has piled up: a 20-episode `--once` peaked at 97 MB with gzip. Sizing
 * the buffers to the episode would change gzip's bytes (zlib's stored blocks follow the space it
 * is given), so the sizes stay and the buffers are reused instead. Uploads read the tarball into
 * the same 1 MiB buffers, so one episode's upload reuses what its pack gave back.
 *
 * A buffer is given back only when no write, Worker or encoder holds it any more.
 */

/** The smallest size {@linkcode sizeFor} gives: smaller buffers would only multiply the pools. */
const MIN_SIZE = 4 * 1024;

/**
 * The buffer size for `bytes` of data when buffers of `max` bytes are the norm: the smallest power
 * of two that holds all of it, or `max`. A small episode's pack and upload then take buffers of
 * its own size class, not three of 1 MiB each (a 2,000-episode backlog held 9.4 MiB of them).
 */
export function sizeFor(bytes: number, max: number): number {
  let size = MIN_SIZE;
  while (size < bytes && size < max) size *= 2;
  return Math.min(size, max);
}

/** Free buffers kept per size: every buffer of a pass's concurrent packs (≤ 20 × 3 at 1 MiB). */
const KEEP = 12;
const pools = new Map<number, Uint8Array[]>();

const taken = new Map<number, number>();

/** A buffer of `size` bytes, reused when one is free (its old bytes are still in it). */
export function takeBuffer(size: number): Uint8Array {
  taken.set(size, (taken.get(size) ?? 0) + 1);
  return pools.get(size)?.pop() ?? new Uint8Array(size);
}

/**
 * A free buffer of at least `size` bytes and less than twice that, the smallest pooled, else a new
 * one of `size`: for a reader that uses a prefix, like an upload reading into a zstd frame's
 * output buffer (1 MiB and a little) once the pack is done with it. Packers never take one:
 * their buffers' sizes decide the bytes.
 */
export function takeBufferAtLeast(size: number): Uint8Array {
  let best: number | undefined;
  for (const [length, pool] of pools) {
    if (pool.length > 0 && length >= size && length < 2 * size && length < (best ?? Infinity)) {
      best = length;
    }
  }
  return takeBuffer(best ?? size);
}

/** How many buffers of each size were taken so far in this process (for tests). */
export function takenBuffers(): ReadonlyMap<number, number> {
  return new Map(taken);
}

/** Gives whole buffers back; views, and buffers transferred to a Worker, are not kept. */
export function giveBuffers(...buffers: Uint8Array[]): void {
  for (const b of buffers) {
    if (b.byteLength === 0 || b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) continue;
    let pool = pools.get(b.byteLength);
    if (!pool) pools.set(b.byteLength, pool = []);
    if (pool.length < KEEP && !pool.includes(b)) pool.push(b);
  }
}

/**
 * Whether bytes are worth compressing, decided from their byte entropy first (pure, no I/O).
 *
 * Order-0 entropy bounds what Huffman coding alone saves: below {@linkcode DEFLATE_BELOW_BITS}
 * bits per byte deflate saves at least 1/32 before it finds a single repeat, so the bytes are
 * compressed without a trial. In between, a trial runs at the configured level but never below 2:
 * Deno's zlib (zlib-ng) level 1 uses fixed Huffman codes, which do not shrink base64 at all
 * (40,527 → 40,492 B, where level 2 gives ~30,700 B). Above {@linkcode STORE_ABOVE_BITS} (random
 * data, gzip, zstd, JPEG: ~7.99 over 64 KiB) Huffman codes save nothing, but repeats still can: a
 * block written twice, or a short pattern that uses every byte value. Order-0 entropy cannot see
 * them, so the first {@linkcode REPEAT_SCAN_BYTES} are scanned for repeats of 8 bytes or more, the
 * way deflate's match finder would; random bytes have none. A 64 KiB histogram costs ~40 µs
 * here, the scan of 4 KiB ~40 µs; the old level-1 trial cost ~500 µs and decided wrong on text.
 */
import { deflateRawSync } from "node:zlib";

/** Entropy (bits per byte) under which bytes are compressed without a trial. */
export const DEFLATE_BELOW_BITS = 7.75;
/** Entropy (bits per byte) over which bytes are stored without a trial. */
export const STORE_ABOVE_BITS = 7.95;

/** Bytes of a high-entropy sample scanned for repeats that entropy cannot see. */
export const REPEAT_SCAN_BYTES = 4 * 1024;

/** Options for {@linkcode compressible}. */
export interface CompressibleOptions {
  /** gzip level of the trial in the uncertain band, clamped to 2–9. @default {3} */
  level?: number;
}

/** Four interleaved histograms (one per byte lane of a 32-bit word), summed at the end. */
const counts = new Uint32Array(4 * 256);
/** `c · log2(c)` for the counts a 4 KiB probe can reach, so small samples skip `Math.log2`. */
const C_LOG_C = Float64Array.from({ length: 4097 }, (_, c) => c === 0 ? 0 : c * Math.log2(c));
const HASH_BITS = 13;
const lastSeen = new Int32Array(1 << HASH_BITS);

/**
 * Bytes of `bytes` covered by repeats of at least 8 bytes of something earlier in it, found
 * greedily through a hash of 4-byte keys (deflate's match finder, without the coding).
 */
export function repeatedBytes(bytes: Uint8Array): number {
  lastSeen.fill(-1);
  let covered = 0;
  const end = bytes.length - 8;
  for (let i = 0; i < end;) {
    const key = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    const slot = Math.imul(key, 0x9e3779b1) >>> (32 - HASH_BITS);
    const earlier = lastSeen[slot]!;
    lastSeen[slot] = i;
    if (earlier >= 0) {
      let length = 0;
      while (i + length < bytes.length && bytes[earlier + length] === bytes[i + length]) length++;
      if (length >= 8) {
        covered += length;
        i += length;
        continue;
      }
    }
    i++;
  }
  return covered;
}

/**
 * Order-0 entropy of `bytes` in bits per byte (0 for no bytes).
 * @example
 * ```ts
 * import { byteEntropy } from "./compressible.ts";
 * byteEntropy(new Uint8Array(1000)); // 0: one symbol
 * ```
 */
export function byteEntropy(bytes: Uint8Array): number {
  const n = bytes.length;
  if (n === 0) return 0;
  counts.fill(0);
  // Whole 32-bit words where the view is aligned: a quarter of the loads, and four tables so
  // that repeated bytes do not wait on each other's increments.
  let i = 0;
  if ((bytes.byteOffset & 3) === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >> 2);
    for (let w = 0; w < words.length; w++) {
      const v = words[w]!;
      counts[v & 255]!++;
      counts[256 + ((v >>> 8) & 255)]!++;
      counts[512 + ((v >>> 16) & 255)]!++;
      counts[768 + (v >>> 24)]!++;
    }
    i = words.length << 2;
  }
  for (; i < n; i++) counts[bytes[i]!]!++;
  let sum = 0;
  for (let s = 0; s < 256; s++) {
    const c = counts[s]! + counts[256 + s]! + counts[512 + s]! + counts[768 + s]!;
    if (c !== 0) sum += c < C_LOG_C.length ? C_LOG_C[c]! : c * Math.log2(c);
  }
  // Rounding can leave -1e-15 for a single symbol.
  return Math.max(0, Math.log2(n) - sum / n);
}

/**
 * Whether compressing bytes that start with `sample` saves at least 1/32 of them: entropy first,
 * a deflate trial only when the entropy is between the two thresholds.
 * @example
 * ```ts
 * import { compressible } from "./compressible.ts";
 * compressible(new TextEncoder().encode("t,x\n1,2\n".repeat(1000))); // true
 * compressible(crypto.getRandomValues(new Uint8Array(65536))); // false
 * ```
 */
export function compressible(sample: Uint8Array, options: CompressibleOptions = {}): boolean {
  if (sample.length === 0) return true;
  const bits = byteEntropy(sample);
  if (bits < DEFLATE_BELOW_BITS) return true;
  if (bits > STORE_ABOVE_BITS) {
    const head = sample.subarray(0, REPEAT_SCAN_BYTES);
    return repeatedBytes(head) >= head.length >> 3;
  }
  const level = Math.min(Math.max(options.level ?? 3, 2), 9);
  return deflateRawSync(sample, { level }).length < sample.length - (sample.length >> 5);
}

import { assert, assertEquals } from "../support/assert.ts";
import { gzipSync } from "node:zlib";
import {
  byteEntropy,
  compressible,
  DEFLATE_BELOW_BITS,
  STORE_ABOVE_BITS,
} from "../../src/pack/compressible.ts";

/** Random bytes: `crypto.getRandomValues` fills at most 64 KiB a call. */
function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Random bytes drawn from the first `symbols` byte values only. */
function alphabet(size: number, symbols: number): Uint8Array {
  return random(size).map((b) => b % symbols);
}

/** Each 1 KiB block of `bytes` followed by itself. */
function twice(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i += 1024) {
    out.set(bytes.subarray(i, i + 1024), 2 * i);
    out.set(bytes.subarray(i, i + 1024), 2 * i + 1024);
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s).subarray(0, 65536);
const base64 = () => text(btoa(String.fromCharCode(...random(49152))));
const json = () =>
  text(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ t: i, v: Math.random() }))));
const csv = () =>
  text(Array.from({ length: 3000 }, (_, i) => `${i},${Math.random().toFixed(6)}\n`).join(""));

Deno.test("byteEntropy() is 0 for one symbol, 1 for two equal ones, 8 for all 256 equally", () => {
  assertEquals(byteEntropy(new Uint8Array(0)), 0);
  assertEquals(byteEntropy(new Uint8Array(1000)), 0);
  const near = (bits: number, want: number) => assert(Math.abs(bits - want) < 1e-9, `${bits}`);
  near(byteEntropy(new Uint8Array(1000).map((_, i) => i % 2)), 1);
  near(byteEntropy(new Uint8Array(2560).map((_, i) => i % 256)), 8);
  const b64 = byteEntropy(base64());
  assert(Math.abs(b64 - 6) < 0.01, `base64: ${b64} bits`);
});

Deno.test("byteEntropy() counts the same at any alignment and size, and beyond its small-count table", () => {
  // The word-at-a-time path (aligned views) and the byte path (others, tails) must agree with a
  // plain count, for skewed data too (counts above the 4,096 the c·log2(c) table holds).
  const plain = (bytes: Uint8Array) => {
    const c = new Map<number, number>();
    for (const b of bytes) c.set(b, (c.get(b) ?? 0) + 1);
    let sum = 0;
    for (const v of c.values()) sum += v * Math.log2(v);
    return bytes.length ? Math.max(0, Math.log2(bytes.length) - sum / bytes.length) : 0;
  };
  const data = new Uint8Array(70_003);
  data.set(random(40_000), 0);
  data.set(alphabet(30_003, 3), 40_000);
  for (const [start, end] of [[0, 70_003], [1, 70_003], [2, 4099], [3, 8], [4, 4100], [0, 1]]) {
    const view = data.subarray(start, end);
    const got = byteEntropy(view), want = plain(view);
    assert(Math.abs(got - want) < 1e-9, `[${start}, ${end}): ${got} against ${want}`);
  }
});

// The bug of issue 12: the level-1 trial (Deno's zlib-ng level 1 uses fixed Huffman codes) found
// nothing to save in base64 and stored it; base64 episodes shipped uncompressed.
Deno.test("compressible() deflates base64, JSON and CSV and stores random and gzip data", () => {
  const cases: [string, Uint8Array, boolean][] = [
    ["base64", base64(), true],
    ["json", json(), true],
    ["csv", csv(), true],
    ["zeros", new Uint8Array(65536), true],
    ["random", random(65536), false],
    ["gzip output", gzipSync(csv()), false],
    ["random 4 KiB (the smallest file probed)", random(4096), false],
    // Every byte value equally often (entropy ~7.99), but periodic: only a trial sees the repeats.
    ["a pattern of period 251", new Uint8Array(65536).map((_, i) => (i * 31) % 251), true],
    ["random 1 KiB blocks, each written twice", twice(random(32768)), true],
  ];
  for (const [name, sample, expected] of cases) {
    assertEquals(compressible(sample), expected, name);
  }
});

Deno.test("compressible() decides by a deflate trial between the two entropy thresholds", () => {
  // 230 symbols: ~7.85 bits per byte, inside the band; Huffman alone saves < 1/32.
  const band = alphabet(65536, 230);
  const bits = byteEntropy(band);
  assertEquals(bits > DEFLATE_BELOW_BITS && bits < STORE_ABOVE_BITS, true, `${bits} bits`);
  assertEquals(compressible(band), false);
  // The same entropy, but every 1 KiB repeated: only the trial can see that it halves.
  const repeated = new Uint8Array(65536);
  for (let i = 0; i < 65536; i += 2048) {
    repeated.set(band.subarray(i, i + 1024), i);
    repeated.set(band.subarray(i, i + 1024), i + 1024);
  }
  const repeatedBits = byteEntropy(repeated);
  assertEquals(repeatedBits > DEFLATE_BELOW_BITS && repeatedBits < STORE_ABOVE_BITS, true);
  for (const level of [1, 3, 9]) assertEquals(compressible(repeated, { level }), true, `${level}`);
});

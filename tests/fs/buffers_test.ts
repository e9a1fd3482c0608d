import { assert, assertEquals } from "../support/assert.ts";
import { giveBuffers, sizeFor, takeBuffer, takeBufferAtLeast } from "../../src/fs/buffers.ts";

const MiB = 1024 * 1024;

Deno.test("sizeFor() gives the smallest power of two that holds the bytes, from 4 KiB up to the cap", () => {
  assertEquals(sizeFor(0, MiB), 4096);
  assertEquals(sizeFor(4096, MiB), 4096);
  assertEquals(sizeFor(4097, MiB), 8192);
  assertEquals(sizeFor(300_000, MiB), 512 * 1024);
  assertEquals(sizeFor(MiB - 1, MiB), MiB);
  assertEquals(sizeFor(5 * MiB, MiB), MiB);
});

Deno.test("takeBufferAtLeast() takes the smallest pooled buffer that holds the size, under twice it", () => {
  const size = 3 * 4096 + 7; // a size no other test pools
  const bigger = takeBuffer(size + 100), biggest = takeBuffer(size + 500);
  const tooBig = takeBuffer(2 * size);
  giveBuffers(biggest, tooBig, bigger);
  assert(takeBufferAtLeast(size) === bigger);
  assert(takeBufferAtLeast(size) === biggest);
  const fresh = takeBufferAtLeast(size);
  assert(fresh !== tooBig);
  assertEquals(fresh.length, size);
  assert(takeBuffer(2 * size) === tooBig);
});

import { assertEquals } from "../support/assert.ts";
import { reserve, Throttle } from "../../src/upload/throttle.ts";

const limits = { rate: 1000, burst: 500 };

Deno.test("reserve() passes what the bucket holds and makes the rest wait at the rate", () => {
  const full = { tokens: 500, at: 0 };
  assertEquals(reserve(full, 200, 0, limits), { bucket: { tokens: 300, at: 0 }, waitMs: 0 });
  assertEquals(reserve(full, 1500, 0, limits), { bucket: { tokens: -1000, at: 0 }, waitMs: 1000 });
});

Deno.test("reserve() refills with time, never above the burst", () => {
  const empty = { tokens: 0, at: 0 };
  assertEquals(reserve(empty, 100, 100, limits).waitMs, 0);
  assertEquals(reserve(empty, 0, 60_000, limits).bucket, { tokens: 500, at: 60_000 });
});

Deno.test("reserve() serves concurrent callers in order, each after the debt before it", () => {
  let bucket = { tokens: 0, at: 0 };
  const waits: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = reserve(bucket, 1000, 0, limits);
    bucket = r.bucket;
    waits.push(r.waitMs);
  }
  assertEquals(waits, [1000, 2000, 3000]);
});

Deno.test("Throttle.take() sleeps on a fake clock for exactly the owed time", async () => {
  let now = 0;
  const slept: number[] = [];
  const throttle = new Throttle(1000, {
    burst: 100,
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  });
  await throttle.take(100);
  await throttle.take(500);
  await throttle.take(50);
  assertEquals(slept, [100, 500, 50]);
  now += 10_000;
  await throttle.take(100);
  assertEquals(slept, [100, 500, 50], "an idle spell saves up the burst");
});

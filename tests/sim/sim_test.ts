/**
 * The queue's invariants (`src/queue/mod.ts`) over 100,000 seeded histories of the real queue
 * code in the simulator (`sim/`), on every core. A failing seed is replayed and shrunk with
 * `deno task simulate --seed N`.
 */
import { assertEquals } from "../support/assert.ts";
import { exploreParallel } from "../../sim/parallel.ts";
import { REGRESSIONS, runRegressions } from "../../sim/regressions.ts";

/** How many histories the test command runs. */
export const HISTORIES = 100_000;

Deno.test(`simulator: ${HISTORIES} seeded histories keep every invariant of the queue`, async () => {
  const started = performance.now();
  const failures = await exploreParallel(0, HISTORIES);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${HISTORIES} histories in ${seconds} s, ${failures.length} violations`);
  assertEquals(
    failures.slice(0, 5).map((f) =>
      `seed ${f.seed}: ${f.violation} (deno task simulate --seed ${f.seed})`
    ),
    [],
  );
});

Deno.test(`simulator: the ${REGRESSIONS.length} kept histories keep every invariant`, async () => {
  assertEquals(await runRegressions(), []);
});

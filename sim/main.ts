/**
 * `deno task simulate`: the queue under the deterministic simulator.
 *
 *   deno task simulate                      100,000 seeded histories on every core
 *   deno task simulate --regressions        the kept histories (sim/regressions.ts)
 *   deno task simulate --count N [--from S] seeds S … S+N-1
 *   deno task simulate --seed N             replay one seed with its log; shrink it if it fails
 *   deno task simulate --minutes M          explore fresh seeds for M minutes
 *   deno task simulate --fleet              the fleet table (sim/fleet.ts)
 *   deno task simulate --mutants [--count N] each guard removed on purpose, and the kept
 *                                           history or seed that catches it (sim/mutants.ts)
 *   deno task simulate --first --count N    stop at the first violation
 */
import { parseArgs } from "node:util";
import { generate, runHistory } from "./history.ts";
import { runSeed, seedUuids, shrink } from "./explore.ts";
import { exploreParallel } from "./parallel.ts";
import { fleetTable } from "./fleet.ts";
import { MUTANTS, mutantTable, runMutant } from "./mutants.ts";
import { REGRESSIONS, runRegressions } from "./regressions.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    count: { type: "string" },
    from: { type: "string" },
    minutes: { type: "string" },
    fleet: { type: "boolean" },
    first: { type: "boolean" },
    mutants: { type: "boolean" },
    regressions: { type: "boolean" },
  },
});

function report(failures: { seed: number; violation: string }[], ran: number, ms: number): number {
  console.log(`${ran} histories in ${(ms / 1000).toFixed(1)} s, ${failures.length} violations`);
  for (const f of failures.slice(0, 20)) {
    console.log(
      `  seed ${f.seed}: ${f.violation}\n    replay: deno task simulate --seed ${f.seed}`,
    );
  }
  return failures.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  if (values.mutants) {
    const budget = Number(values.count ?? 100_000);
    const results = [];
    for (const mutant of MUTANTS) {
      const result = await runMutant(mutant, budget);
      const by = [
        ...(result.regression ? [`kept history ${result.regression}`] : []),
        ...(result.seed !== null ? [`seed ${result.seed}`] : []),
      ];
      console.error(`${mutant.guard}: ${by.length > 0 ? by.join(", ") : "not caught"}`);
      results.push(result);
    }
    for (const line of mutantTable(results)) console.log(line);
    return results.every((r) => r.seed !== null || r.regression !== undefined) ? 0 : 1;
  }
  if (values.regressions) {
    const failures = await runRegressions();
    for (const f of failures) console.log(`regression violation: ${f.name}: ${f.violation}`);
    console.log(`${REGRESSIONS.length} kept histories, ${failures.length} violations`);
    return failures.length === 0 ? 0 : 1;
  }
  if (values.first) {
    const count = Number(values.count ?? 100_000);
    const start = Number(values.from ?? 0);
    const started = performance.now();
    const batch = 1000;
    for (let from = start; from < start + count; from += batch) {
      const failures = await exploreParallel(from, Math.min(batch, start + count - from));
      if (failures.length > 0) {
        const f = failures[0]!;
        console.log(
          `first violation: seed ${f.seed} after ${f.seed - start + 1} histories: ${f.violation}`,
        );
        return 1;
      }
    }
    return report([], count, performance.now() - started);
  }
  if (values.fleet) {
    for (const line of fleetTable()) console.log(line);
    return 0;
  }
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    const outcome = await runSeed(seed, true);
    if (outcome.violation === null) {
      console.log(`seed ${seed}: no violation (${generate(seed).length} events)`);
      return 0;
    }
    console.log(`seed ${seed}: ${outcome.violation} (after event ${outcome.at})`);
    const short = await shrink(seed);
    seedUuids(seed);
    Error.stackTraceLimit = 10;
    const again = await runHistory(short, { verbose: true });
    console.log(`\nshrunk to ${short.length} of ${generate(seed).length} events:`);
    for (const line of again.log) console.log(`  ${line}`);
    console.log(`\n${again.violation}`);
    return 1;
  }
  if (values.minutes !== undefined) {
    const until = Date.now() + Number(values.minutes) * 60_000;
    let from = Math.floor(Math.random() * 2 ** 31);
    let ran = 0;
    const started = performance.now();
    const failures = [];
    while (Date.now() < until) {
      failures.push(...await exploreParallel(from, 4000));
      from += 4000;
      ran += 4000;
      if (failures.length > 0) break;
    }
    return report(failures, ran, performance.now() - started);
  }
  const count = Number(values.count ?? 100_000);
  const from = Number(values.from ?? 0);
  const started = performance.now();
  const failures = await exploreParallel(from, count);
  return report(failures, count, performance.now() - started);
}

Deno.exit(await main());

/**
 * Runs many seeded histories, and shrinks a failing one to a short history that still fails.
 * Temporary file names are drawn from the history's own generator, so a seed replays exactly.
 */
import { type Event, generate, type Outcome, runHistory } from "./history.ts";
import { rngOf } from "./rng.ts";

/** Makes `crypto.randomUUID` deterministic for one history (the simulator owns its process). */
export function seedUuids(seed: number): void {
  const rng = rngOf(seed ^ 0x5eed);
  const hex = () => Math.floor(rng.next() * 0x100000000).toString(16).padStart(8, "0");
  crypto.randomUUID = () =>
    `${hex()}-${hex().slice(0, 4)}-4${hex().slice(0, 3)}-8${hex().slice(0, 3)}-${hex()}${
      hex().slice(0, 4)
    }` as `${string}-${string}-${string}-${string}-${string}`;
}

/** Runs the history of one seed. */
export async function runSeed(seed: number, verbose = false): Promise<Outcome> {
  seedUuids(seed);
  // The queue throws and catches many ENOENTs; their stack traces are most of their cost.
  Error.stackTraceLimit = verbose ? 10 : 0;
  return await runHistory(generate(seed), { verbose });
}

/** A failing seed. */
export interface Failure {
  seed: number;
  violation: string;
}

/** Runs seeds `from` … `from + count - 1`; stops at the first failure when `stopAtFirst`. */
export async function explore(
  from: number,
  count: number,
  options: { stopAtFirst?: boolean; onProgress?: (done: number) => void } = {},
): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (let i = 0; i < count; i++) {
    const seed = from + i;
    const outcome = await runSeed(seed);
    if (outcome.violation !== null) {
      failures.push({ seed, violation: outcome.violation });
      if (options.stopAtFirst) break;
    }
    if (i % 1000 === 999) options.onProgress?.(i + 1);
  }
  return failures;
}

/**
 * Shrinks a failing history (delta debugging): drops runs of events while the history still
 * breaks an invariant, down to single events. Returns the shortest failing history found.
 */
export async function shrink(seed: number, events: Event[] = generate(seed)): Promise<Event[]> {
  const fails = async (candidate: Event[]) => {
    seedUuids(seed);
    return (await runHistory(candidate)).violation !== null;
  };
  let current = events;
  for (let size = Math.max(1, Math.floor(current.length / 2)); size >= 1;) {
    let removed = false;
    for (let start = 0; start + size <= current.length;) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      if (await fails(candidate)) {
        current = candidate;
        removed = true;
      } else {
        start += size;
      }
    }
    if (!removed) size = Math.floor(size / 2);
  }
  return current;
}

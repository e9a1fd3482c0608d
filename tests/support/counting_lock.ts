/** The simulated moves lock, counting the sections run under it. */
import type { MovesLock } from "../../src/queue/moves.ts";
import { simLock } from "../../sim/sim_world.ts";

/** A moves lock over the simulated file system, and how many sections it has run so far. */
export function countingSimLock(): [lock: MovesLock, sections: () => number] {
  const inner = simLock();
  let sections = 0;
  const lock: MovesLock = <T>(fn: () => Promise<T>) => {
    sections++;
    return inner(fn);
  };
  return [lock, () => sections];
}

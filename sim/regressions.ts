/**
 * Histories kept because they once broke an invariant, or because they are the shortest known way
 * to break one when a guard is missing and random seeds reach them only rarely. Seeds change
 * meaning whenever the generator draws differently; these event lists do not. The test command
 * replays them, and `--mutants` tries them before any seed.
 */
import { seedUuids } from "./explore.ts";
import { type Event, runHistory } from "./history.ts";

/** One kept history. */
export interface Regression {
  name: string;
  /** Why it is kept. */
  why: string;
  events: Event[];
}

export const REGRESSIONS: readonly Regression[] = [
  {
    name: "crashed-state-then-power-loss",
    why: "a process crashed after writing a state it had not synced; the next one sent the " +
      "tarball that state named and lost power before recording the answer: unless recovery " +
      "syncs outbox/ before acting on what it found, the state comes back without its " +
      "compression, the episode is packed again with another one, and the collector's 409 " +
      "names other bytes (found as seed 52169 of an earlier generator)",
    events: [
      { e: "reload", compression: "none", concurrency: 2, packAhead: 1 },
      { e: "produce", kind: "good", reuse: false, complete: true },
      { e: "pass", fault: { at: 9, what: "crash", power: false, applied: false } },
      { e: "pass", fault: { at: 5, what: "crash", power: true, applied: false } },
      { e: "reload", compression: "gzip", concurrency: 2, packAhead: 1 },
    ],
  },
  {
    name: "request-on-its-way-when-the-host-failed",
    why: "three uploads and two packs ahead: a request started in the instant between a " +
      "failure answer's arrival and the shipper reading it; the one-probe check must count " +
      "from when the shipper knows (found as seed 20440)",
    events: [
      { e: "reload", compression: "gzip", concurrency: 3, packAhead: 2 },
      { e: "produce", kind: "good", reuse: false, complete: true },
      { e: "produce", kind: "good", reuse: true, complete: true },
      { e: "pass", fault: { at: 7, what: "fail", code: "ENOSPC" } },
      { e: "produce", kind: "good", reuse: false, complete: true },
      { e: "produce", kind: "good", reuse: false, complete: true },
      { e: "time", ms: 31_536_000_000 },
      { e: "mode", mode: "clock" },
      { e: "pass", fault: { at: 30, what: "fail", code: "ENOSPC" } },
    ],
  },
];

/** Replays every kept history; the ones that broke an invariant, with what they broke. */
export async function runRegressions(): Promise<{ name: string; violation: string }[]> {
  const failures = [];
  for (const [i, r] of REGRESSIONS.entries()) {
    seedUuids(i);
    Error.stackTraceLimit = 0;
    const outcome = await runHistory(r.events);
    if (outcome.violation !== null) failures.push({ name: r.name, violation: outcome.violation });
  }
  return failures;
}

/**
 * Waits for a condition by polling it, however long the machine takes, and fails as soon as it
 * can no longer happen: a CLI process the test started (devkit/cli.ts `spawnCli`, not yet
 * stopped) exited or logged an ERROR line. The only other bound is a hang guard far beyond any
 * run, so a hang fails the test instead of stalling CI; it is not a statement about speed.
 */
import { type CliProcess, runningCliProcesses } from "../../devkit/cli.ts";

const HANG_GUARD_MS = 300_000;

/** Options for {@linkcode waitFor}. */
export interface WaitOptions {
  /** The processes whose misbehaviour fails the wait. @default {every running spawnCli process} */
  watch?: readonly Pick<CliProcess, "name" | "problem" | "stderrSoFar">[];
}

/**
 * Polls `done` until it holds.
 * @throws {Error} naming `what` and the process, when a watched process exits or logs an error
 * first, or after the hang guard
 */
export async function waitFor(
  what: string,
  done: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const start = Date.now();
  while (!(await done())) {
    for (const proc of options.watch ?? runningCliProcesses()) {
      const problem = proc.problem();
      if (problem) {
        const tail = proc.stderrSoFar().trimEnd().split("\n").slice(-20).join("\n");
        throw new Error(`Never happened: ${what}: ${proc.name} ${problem}\n${tail}`);
      }
    }
    if (Date.now() - start > HANG_GUARD_MS) throw new Error(`Never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Awaits `promise` under the same watch as {@linkcode waitFor}. */
export async function waitForPromise<T>(
  what: string,
  promise: Promise<T>,
  options: WaitOptions = {},
): Promise<T> {
  let result: { value: T } | { error: unknown } | null = null;
  promise.then((value) => (result = { value }), (error) => (result = { error }));
  await waitFor(what, () => result !== null, options);
  const settled = result as unknown as { value: T } | { error: unknown };
  if ("error" in settled) throw settled.error;
  return settled.value;
}

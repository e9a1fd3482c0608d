/**
 * Waits for a condition by polling it, however long the machine takes. The only bound is a hang
 * guard far beyond any run (so a real bug fails the test instead of stalling CI); it is not a
 * statement about how fast anything should be.
 */
const HANG_GUARD_MS = 300_000;

/** Polls `done` until it holds. @throws {Error} naming `what` after the hang guard */
export async function waitFor(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const start = Date.now();
  while (!(await done())) {
    if (Date.now() - start > HANG_GUARD_MS) throw new Error(`Never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** When the next attempt is due after a transient failure. Pure. */

/** The longest `Retry-After` honoured, so a misbehaving collector cannot park a queue for days. */
export const RETRY_AFTER_CAP_MS = 3600_000;

/** Jitter spreads retries of many hosts: each delay is scaled by a factor in [0.8, 1.2). */
export const JITTER = 0.2;

/**
 * The delay after the failure of attempt number `attempt` (0 for the first):
 * `schedule[min(attempt, len-1)]` seconds with jitter, and never less than `Retry-After`.
 */
export function retryDelayMs(
  attempt: number,
  schedule: readonly number[],
  retryAfterMs: number | null,
  random: () => number,
): number {
  const base = (schedule[Math.min(attempt, schedule.length - 1)] ?? 1) * 1000;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, RETRY_AFTER_CAP_MS));
}

/**
 * The longest wait the schedule or a `Retry-After` can ask for. A due time further away than this
 * was computed under a clock that has since jumped back, and is treated as due.
 */
export function longestWaitMs(schedule: readonly number[]): number {
  const longest = Math.max(...schedule) * 1000 * (1 + JITTER);
  return Math.max(Math.ceil(longest), RETRY_AFTER_CAP_MS);
}

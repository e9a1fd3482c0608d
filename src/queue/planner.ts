/**
 * The next step for one complete episode, from what is known of it: its outbox state, whether its
 * tarball is whole, a local failure being backed off, and the time. Pure; `pass.ts` applies it.
 */
import type { EpisodeState, RecordedVerdict } from "./state.ts";

/** A local failure (permissions, a full disk) being backed off, kept in memory by the service. */
export interface LocalFailure {
  attempts: number;
  nextAt: number;
  error: string;
}

/** What the planner knows about an episode. */
export interface PlanInput {
  state: EpisodeState | null;
  /** Whether the tarball `state` describes is in `outbox/`, whole. */
  packed: boolean;
  local: LocalFailure | undefined;
  now: number;
  /** Waits longer than this come from a clock that jumped back: treated as due. */
  maxWaitMs: number;
}

/** The step to take. */
export type Step =
  /** The collector has answered: move the episode, never send it again. */
  | { kind: "finish"; verdict: RecordedVerdict }
  /** Not yet: `until` (ms) is when it is due, `why` says what it waits for. */
  | { kind: "wait"; until: number; why: string }
  /** The tarball is ready: send it. */
  | { kind: "upload" }
  /** Preflight, then pack (when uploads may happen), then send. */
  | { kind: "prepare" };

/** Whether `dueAt` is still in the future, with a due time from a jumped clock ignored. */
export function waitsUntil(
  dueAt: number | null,
  now: number,
  maxWaitMs: number,
): { waits: boolean; clockJump: boolean } {
  if (dueAt === null || Number.isNaN(dueAt) || dueAt <= now) {
    return { waits: false, clockJump: false };
  }
  if (dueAt - now > maxWaitMs) return { waits: false, clockJump: true };
  return { waits: true, clockJump: false };
}

/** Decides the next step for an episode. */
export function planEpisode(input: PlanInput): Step {
  const { state, local, now, maxWaitMs } = input;
  if (local && waitsUntil(local.nextAt, now, maxWaitMs).waits) {
    return {
      kind: "wait",
      until: local.nextAt,
      why: `backing off after ${local.attempts} local failure(s): ${local.error}`,
    };
  }
  if (state?.verdict) return { kind: "finish", verdict: state.verdict };
  const due = state?.next_attempt_at ? Date.parse(state.next_attempt_at) : null;
  if (state && waitsUntil(due, now, maxWaitMs).waits) {
    return {
      kind: "wait",
      until: due as number,
      why: `backing off after ${state.attempts} failed attempt(s): ${state.last_error}`,
    };
  }
  return input.packed && state ? { kind: "upload" } : { kind: "prepare" };
}

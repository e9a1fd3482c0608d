/**
 * The next step for one complete episode, from its outbox state, whether its tarball is whole,
 * and the time. Pure; each step carries the state it was planned from, narrowed to what the step
 * needs, so the runner never casts.
 */
import type { AnsweredState, EpisodeState, IntentState, PackedState } from "./state.ts";

/** What the planner knows about an episode. */
export interface PlanInput {
  state: EpisodeState | null;
  /** Whether the tarball `state.packed` describes is in `outbox/`, whole. */
  tarballWhole: boolean;
  now: number;
  /** Waits longer than this come from a clock that jumped back: treated as due. */
  maxWaitMs: number;
}

/** The step to take. */
export type Step =
  /** A quarantine was decided: finish the move (invariant 3). */
  | { kind: "finish-quarantine"; state: IntentState }
  /** The receiver has answered: move the episode, never send it again (invariant 2). */
  | { kind: "finish"; state: AnsweredState }
  /** Not yet: `until` (ms) is when it is due, `why` says what it waits for. */
  | { kind: "wait"; until: number; why: string; state: EpisodeState }
  /** The tarball is ready: send it. */
  | { kind: "upload"; state: PackedState }
  /** Preflight, then pack (when uploads may happen), then send. */
  | { kind: "prepare"; state: EpisodeState | null };

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

function hasIntent(state: EpisodeState): state is IntentState {
  return state.intent !== undefined;
}

function hasVerdict(state: EpisodeState): state is AnsweredState {
  return state.verdict !== undefined;
}

function isPacked(state: EpisodeState): state is PackedState {
  return state.packed !== null;
}

/**
 * Decides the next step for an episode.
 * @example
 * ```ts
 * import { planEpisode } from "./planner.ts";
 * planEpisode({ state: null, tarballWhole: false, now: 0, maxWaitMs: 1000 }); // { kind: "prepare", state: null }
 * ```
 */
export function planEpisode(input: PlanInput): Step {
  const { state, now, maxWaitMs } = input;
  if (state === null) return { kind: "prepare", state };
  const localDue = state.local ? Date.parse(state.local.next_at) : null;
  if (state.local && waitsUntil(localDue, now, maxWaitMs).waits) {
    return {
      kind: "wait",
      until: localDue as number,
      why: `backing off after ${state.local.failures} local failure(s): ${state.local.error}`,
      state,
    };
  }
  if (hasIntent(state)) return { kind: "finish-quarantine", state };
  if (hasVerdict(state)) return { kind: "finish", state };
  const due = state.next_attempt_at ? Date.parse(state.next_attempt_at) : null;
  if (waitsUntil(due, now, maxWaitMs).waits) {
    return {
      kind: "wait",
      until: due as number,
      why: `backing off after ${state.attempts} failed attempt(s): ${state.last_error}`,
      state,
    };
  }
  return isPacked(state) && input.tarballWhole
    ? { kind: "upload", state }
    : { kind: "prepare", state };
}

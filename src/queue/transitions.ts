/**
 * Every change of an episode's outbox state, as pure functions from the old state to the new
 * one. The outbox (`outbox.ts`) writes what these return, with the durability its transition
 * asks for; nothing else makes a state.
 */
import type { Action } from "./decide.ts";
import { retryDelayMs } from "./backoff.ts";
import type {
  AnsweredState,
  EpisodeState,
  IntentState,
  Packed,
  PackedState,
  QuarantineIntent,
  RecordedVerdict,
} from "./state.ts";

/** Identical local failures in a row after which an episode is quarantined (or held). */
export const LOCAL_FAILURE_LIMIT = 5;

/**
 * Error codes that say the episode itself cannot be packed (a path over the system limit, a
 * symlink loop): repeating them cannot help. Every other local failure — a full disk, EIO, an
 * outbox the shipper may not write — is the host's, and is retried without end (invariant 5).
 */
export const EPISODE_FAULT_CODES: ReadonlySet<string> = new Set(["ENAMETOOLONG", "ELOOP"]);

/** Whether a local failure is the episode's own fault (see {@linkcode EPISODE_FAULT_CODES}). */
export function isEpisodeFault(code: string | null): boolean {
  return code !== null && EPISODE_FAULT_CODES.has(code);
}

/** A fresh tarball: what earlier attempts learnt about the old one no longer applies to it. */
export function packed(state: EpisodeState, tarball: Packed): PackedState {
  const { resume: _resume, ...rest } = state;
  return { ...rest, packed: tarball, local: null };
}

/** The receiver answered for good: recorded before anything moves (invariant 2). */
export function answered(
  state: EpisodeState,
  action: Extract<Action, { kind: "ship" | "quarantine" }>,
  now: number,
): AnsweredState {
  const at = new Date(now).toISOString();
  const verdict: RecordedVerdict = action.kind === "ship"
    ? {
      kind: "ship",
      duplicate: action.duplicate,
      ...(action.unconfirmed && { unconfirmed: true }),
      status: action.status,
      reason: null,
      body: null,
      at,
    }
    : {
      kind: "quarantine",
      duplicate: false,
      status: action.status,
      reason: action.reason,
      body: action.body,
      at,
    };
  const { resume: _resume, ...rest } = state;
  return { ...rest, verdict };
}

/** A transient failure: the next attempt is due later. */
export function retryScheduled(
  state: EpisodeState,
  action: Extract<Action, { kind: "retry" }>,
): EpisodeState {
  return {
    ...state,
    attempts: action.attempts,
    next_attempt_at: new Date(action.nextAttemptAt).toISOString(),
    last_error: action.error,
  };
}

/**
 * The receiver said our tarball was wrong: its file goes and the next step packs again — in the
 * same format (`packed` is kept), so the new tarball is byte for byte what the receiver may
 * already hold under this id.
 */
export function repackRequested(state: EpisodeState, reason: string): EpisodeState {
  const { resume: _resume, ...rest } = state;
  return { ...rest, repacks: state.repacks + 1, last_error: reason };
}

/** Options for {@linkcode localFailed}. */
export interface LocalFailureContext {
  now: number;
  backoffSeconds: readonly number[];
  random: () => number;
}

/** A local step failed (a full disk, a path too long): backed off, counted when identical. */
export function localFailed(
  state: EpisodeState,
  error: string,
  ctx: LocalFailureContext,
): EpisodeState {
  const failures = state.local?.error === error ? state.local.failures + 1 : 1;
  const delay = retryDelayMs(failures - 1, ctx.backoffSeconds, null, ctx.random);
  return {
    ...state,
    local: { failures, error, next_at: new Date(ctx.now + delay).toISOString() },
  };
}

/** Whether local failures have repeated often enough that retrying cannot help. */
export function localFailuresExhausted(state: EpisodeState): boolean {
  return (state.local?.failures ?? 0) >= LOCAL_FAILURE_LIMIT;
}

/** A quarantine decided: recorded in our own state before the episode moves. */
export function quarantineDecided(
  state: EpisodeState,
  intent: Omit<QuarantineIntent, "dest">,
): IntentState {
  const { resume: _resume, ...rest } = state;
  return { ...rest, intent: { ...intent, dest: state.intent?.dest ?? null } };
}

/** The name in `quarantine/` chosen for the move, recorded before the rename. */
export function quarantineDestChosen(state: IntentState, dest: string): IntentState {
  return { ...state, intent: { ...state.intent, dest } };
}

/** The intent a recorded refusal becomes. */
export function intentOfVerdict(state: AnsweredState): Omit<QuarantineIntent, "dest"> {
  const { verdict } = state;
  return {
    source: "collector",
    reason: verdict.reason ?? `HTTP ${verdict.status}`,
    http_status: verdict.status,
    response_body: verdict.body,
    commit: state.packed?.commit ?? null,
    at: verdict.at,
  };
}

/** Resumable upload progress reported by the receiver. */
export function resumeSaved(state: PackedState, resume: unknown): PackedState {
  return { ...state, resume };
}

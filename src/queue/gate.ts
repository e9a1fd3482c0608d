/**
 * The host's upload gate: when the collector is down, refuses our credentials or is misaddressed,
 * the host as a whole backs off and probes with one request per backoff step, then drains at full
 * speed once a probe succeeds (docs/protocol.md; the Python shipper hammered a refusing collector). Pure: the pass holds the value and applies it.
 */
import { retryDelayMs } from "./backoff.ts";
import type { HostProblem } from "../upload/receiver.ts";

/** Why uploads are paused. */
export type PauseWhy = HostProblem | "collector-down";

/** A paused host. */
export interface Paused {
  why: PauseWhy;
  message: string;
  /** When the pause began (ms). */
  since: number;
  /** Failed probes since the pause began, including the failure that began it. */
  failures: number;
  /** When the next probe may start (ms). */
  nextProbeAt: number;
}

/**
 * The gate: open (proven: the collector has answered about an episode since the process started),
 * not yet proven (the first upload goes alone, as a probe), or paused.
 */
export type Gate = { paused: null; proven: boolean } | { paused: Paused };

/** An open gate. */
export const OPEN: Gate = { paused: null, proven: true };

/** The gate of a process that has not heard from the collector yet: one probe first. */
export const UNPROVEN: Gate = { paused: null, proven: false };

/** What the gate allows now: any number of uploads, exactly one probe, or none. */
export type Admission = "open" | "probe" | "closed";

/**
 * Whether uploads may start at `now`. A probe time further away than `maxWaitMs` can only come
 * from a clock that jumped back: it is treated as due.
 */
export function admission(gate: Gate, now: number, maxWaitMs: number): Admission {
  if (gate.paused === null) return gate.proven ? "open" : "probe";
  const wait = gate.paused.nextProbeAt - now;
  return wait <= 0 || wait > maxWaitMs ? "probe" : "closed";
}

/** The gate after an upload the collector answered about the episode itself (stored or not). */
export function afterAnswer(_gate: Gate): Gate {
  return OPEN;
}

/** What went wrong with the host, not the episode. */
export interface HostFailure {
  why: PauseWhy;
  message: string;
  /** `Retry-After`, when the collector sent one. */
  retryAfterMs: number | null;
}

/** Context for {@linkcode afterFailure}. */
export interface GateContext {
  now: number;
  backoffSeconds: readonly number[];
  random: () => number;
}

/** The gate after an upload failed for the host's sake: paused until the next backoff step. */
export function afterFailure(gate: Gate, failure: HostFailure, ctx: GateContext): Gate {
  const failures = (gate.paused?.failures ?? 0) + 1;
  const delay = retryDelayMs(failures - 1, ctx.backoffSeconds, failure.retryAfterMs, ctx.random);
  return {
    paused: {
      why: failure.why,
      message: failure.message,
      since: gate.paused?.since ?? ctx.now,
      failures,
      nextProbeAt: ctx.now + delay,
    },
  };
}

/**
 * What one answer of the receiver means for the episode: the outcome table as a pure function
 * from the receiver's {@linkcode Answer} (already in the table's classes) and what the outbox
 * state knows (attempts, our digest) to the {@linkcode Action} the queue applies.
 *
 * The rule behind the table: quarantine only what the receiver says about *this episode*. An
 * answer about the connection, the host's credentials, its clock or the receiver's setup pauses
 * the host and is never the episode's fault (invariant 5 in `mod.ts`).
 */
import type { Answer, HostProblem } from "../upload/receiver.ts";
import { scrubSecrets } from "../upload/scrub.ts";
import { retryDelayMs } from "./backoff.ts";

/** Repack answers in a row after which the receiver, not our tarball, is suspected. */
export const REPACK_LIMIT = 3;

/** The action the queue applies. Every text in it is already scrubbed of secrets. */
export type Action =
  /** Stored, or already there with our bytes (or with bytes nobody told us about). */
  | { kind: "ship"; duplicate: boolean; unconfirmed: boolean; status: number }
  /** Refused for good, or the receiver holds other bytes under this id. */
  | { kind: "quarantine"; status: number; body: string; reason: string }
  /** About the host: pause every upload, probe on the backoff schedule. */
  | { kind: "pause"; why: HostProblem; status: number; message: string }
  /** Try again later. */
  | {
    kind: "retry";
    attempts: number;
    nextAttemptAt: number;
    error: string;
    retryAfterMs: number | null;
  }
  /** Our tarball is wrong: drop it and pack again; never resend the same bytes. */
  | { kind: "repack"; reason: string }
  /** Our own stop aborted the send: nothing is known, nothing is counted. */
  | { kind: "stopped" };

/** What {@linkcode decide} knows besides the answer. */
export interface DecideContext {
  /** Failed attempts before this one. */
  attempts: number;
  /** Repack answers in a row before this one. */
  repacks: number;
  /** Base64 SHA-256 of the tarball we sent. */
  sha256: string;
  backoffSeconds: readonly number[];
  now: number;
  random: () => number;
  /** Configured secrets (the bearer token, the S3 secret), removed from every text. */
  secrets?: readonly string[];
  /** When our client certificate stops being valid (ms since the epoch), if one is configured. */
  clientCertNotAfter?: number;
}

/** The expired-certificate sentence, when our certificate's end date is past. */
function expiredNote(ctx: DecideContext): string | null {
  const end = ctx.clientCertNotAfter;
  if (end === undefined || end > ctx.now) return null;
  return `our client certificate (receiver.client_cert) expired on ${
    new Date(end).toISOString()
  }: renew it`;
}

/** The sentence for a receiver that holds other bytes under this episode's id. */
export function conflictReason(theirs: string, ours: string): string {
  return `the receiver already holds different bytes under this episode id ` +
    `(stored sha-256=:${theirs}:, ours sha-256=:${ours}:): the episode was produced again ` +
    `under an id that was already shipped. Rename the episode directory to a new id and ` +
    `requeue it, or ask the collector's operator about the stored copy`;
}

/**
 * Decides what an answer means for the episode.
 * @example
 * ```ts
 * import { decide } from "./decide.ts";
 * const ctx = { attempts: 0, repacks: 0, sha256: "x", backoffSeconds: [1], now: 0, random: Math.random };
 * decide({ class: "stored", status: 201 }, ctx); // { kind: "ship", duplicate: false, … }
 * ```
 */
export function decide(answer: Answer, ctx: DecideContext): Action {
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  switch (answer.class) {
    case "aborted":
      return { kind: "stopped" };
    case "stored":
      return { kind: "ship", duplicate: false, unconfirmed: false, status: answer.status };
    case "duplicate":
      if (answer.digest === null) {
        return { kind: "ship", duplicate: true, unconfirmed: true, status: answer.status };
      }
      if (answer.digest === ctx.sha256) {
        return { kind: "ship", duplicate: true, unconfirmed: false, status: answer.status };
      }
      return {
        kind: "quarantine",
        status: answer.status,
        body: "",
        reason: conflictReason(answer.digest, ctx.sha256),
      };
    case "refused":
      return {
        kind: "quarantine",
        status: answer.status,
        body: scrub(answer.body),
        reason: scrub(`collector refused the episode: ${answer.said}`),
      };
    case "credentials":
    case "misconfigured":
    case "clock": {
      const note = answer.class === "credentials" ? expiredNote(ctx) : null;
      const cause = note ?? answer.cause;
      // Without an HTTP answer (a TLS alert), the cause leads and what the connection said
      // follows; with one, the answer leads.
      const message = answer.status === 0
        ? (answer.said && answer.said !== cause ? `${cause} (${answer.said})` : cause)
        : `${answer.said} (likely cause: ${cause})`;
      return { kind: "pause", why: answer.class, status: answer.status, message: scrub(message) };
    }
    case "repack":
      if (ctx.repacks + 1 < REPACK_LIMIT) {
        return { kind: "repack", reason: scrub(answer.said) };
      }
      // Packed afresh and verified locally, and still refused as damaged: the fault is on the
      // way or at the receiver. Back off like any transient failure; never quarantine.
      return retry(
        `${answer.said} (${REPACK_LIMIT} fresh packs in a row refused as damaged)`,
        null,
      );
    case "transient":
      return retry(answer.said, answer.retryAfterMs);
  }

  function retry(error: string, retryAfterMs: number | null): Action {
    return {
      kind: "retry",
      attempts: ctx.attempts + 1,
      nextAttemptAt: ctx.now +
        retryDelayMs(ctx.attempts, ctx.backoffSeconds, retryAfterMs, ctx.random),
      error: scrub(error),
      retryAfterMs,
    };
  }
}

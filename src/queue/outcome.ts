/**
 * What to do with an episode after one upload attempt: the §4 table as a pure function over the
 * collector's answer (or the failure to get one).
 */
import {
  classifyAnswer,
  describeAnswer,
  type FailureKind,
  parseRetryAfter,
} from "../upload/classify.ts";
import { scrubSecrets } from "../upload/scrub.ts";
import { retryDelayMs } from "./backoff.ts";

/** The result of an attempt: a response, or why there was none. */
export type Attempt =
  | { status: number; headers: Record<string, string | undefined>; body: string }
  | {
    error: string;
    /** `UploadError.kind`; without it the failure is transient. */
    kind?: FailureKind;
  };

/** The action the queue applies. Every text in it is already scrubbed of secrets. */
export type Action =
  | { kind: "ship"; duplicate: boolean; status: number }
  | { kind: "quarantine"; status: number; body: string; reason: string }
  | {
    kind: "pause";
    why: "credentials" | "misconfigured";
    /** The HTTP status, or 0 when the collector refused us without one (a TLS alert). */
    status: number;
    /** What the collector said and the likely cause, for a loud log line. */
    message: string;
  }
  | { kind: "retry"; attempts: number; nextAttemptAt: number; error: string };

/** Context for {@linkcode decide}. */
export interface DecideContext {
  /** Failed attempts before this one. */
  attempts: number;
  backoffSeconds: readonly number[];
  now: number;
  random: () => number;
  /** Configured secrets (the bearer token), removed from every text an action carries. */
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

/** Decides what an attempt's result means for the episode. */
export function decide(attempt: Attempt, ctx: DecideContext): Action {
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  const retry = (error: string, retryAfterMs: number | null): Action => ({
    kind: "retry",
    attempts: ctx.attempts + 1,
    nextAttemptAt: ctx.now +
      retryDelayMs(ctx.attempts, ctx.backoffSeconds, retryAfterMs, ctx.random),
    error: scrub(error),
  });
  if ("error" in attempt) {
    if (attempt.kind !== "credentials") return retry(attempt.error, null);
    const note = expiredNote(ctx);
    return {
      kind: "pause",
      why: "credentials",
      status: 0,
      message: scrub(note ? `${note} (${attempt.error})` : attempt.error),
    };
  }
  const { status } = attempt;
  // Scrubbed before anything is cut short: a secret cut by "…" would no longer match.
  const body = scrub(attempt.body);
  const said = describeAnswer(status, body);
  const { class: cls, cause } = classifyAnswer(attempt);
  switch (cls) {
    case "stored":
      return { kind: "ship", duplicate: false, status };
    case "duplicate":
      return { kind: "ship", duplicate: true, status };
    case "refused":
      return {
        kind: "quarantine",
        status,
        body: scrub(body),
        reason: scrub(`collector refused the episode: ${said}`),
      };
    case "credentials":
    case "misconfigured": {
      const note = cls === "credentials" ? expiredNote(ctx) : null;
      const likely = note ?? cause;
      return {
        kind: "pause",
        why: cls,
        status,
        message: scrub(`${said} (likely cause: ${likely})`),
      };
    }
    case "transient":
      return retry(said, parseRetryAfter(attempt.headers["retry-after"], ctx.now));
  }
}

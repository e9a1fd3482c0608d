/**
 * What to do with an episode after one upload attempt: the §4 table as a pure function over the
 * collector's answer (or the failure to get one).
 */
import { classifyStatus, parseRetryAfter } from "../upload/classify.ts";
import { retryDelayMs } from "./backoff.ts";

/** The result of an attempt: a response, or why there was none. */
export type Attempt =
  | { status: number; headers: Record<string, string | undefined>; body: string }
  | { error: string };

/** The action the queue applies. */
export type Action =
  | { kind: "ship"; duplicate: boolean; status: number }
  | { kind: "quarantine"; status: number; body: string; reason: string }
  | { kind: "pause"; why: "credentials" | "misconfigured"; status: number; message: string }
  | { kind: "retry"; attempts: number; nextAttemptAt: number; error: string };

/** Context for {@linkcode decide}. */
export interface DecideContext {
  /** Failed attempts before this one. */
  attempts: number;
  backoffSeconds: readonly number[];
  now: number;
  random: () => number;
}

function firstLine(body: string): string {
  const line = body.trim().split(/\r?\n/)[0] ?? "";
  return line.length > 200 ? line.slice(0, 200) + "…" : line;
}

/** Decides what an attempt's result means for the episode. */
export function decide(attempt: Attempt, ctx: DecideContext): Action {
  const retry = (error: string, retryAfterMs: number | null): Action => ({
    kind: "retry",
    attempts: ctx.attempts + 1,
    nextAttemptAt: ctx.now +
      retryDelayMs(ctx.attempts, ctx.backoffSeconds, retryAfterMs, ctx.random),
    error,
  });
  if ("error" in attempt) return retry(attempt.error, null);
  const { status, body } = attempt;
  const detail = firstLine(body);
  const said = `HTTP ${status}${detail ? `: ${detail}` : ""}`;
  switch (classifyStatus(status)) {
    case "stored":
      return { kind: "ship", duplicate: false, status };
    case "duplicate":
      return { kind: "ship", duplicate: true, status };
    case "refused":
      return {
        kind: "quarantine",
        status,
        body,
        reason: `collector refused the episode with ${said}`,
      };
    case "credentials":
      return { kind: "pause", why: "credentials", status, message: said };
    case "misconfigured":
      return {
        kind: "pause",
        why: "misconfigured",
        status,
        message: status >= 300 && status < 400 && attempt.headers.location
          ? `${said} (redirect to ${attempt.headers.location})`
          : said,
      };
    case "transient":
      return retry(said, parseRetryAfter(attempt.headers["retry-after"], ctx.now));
  }
}

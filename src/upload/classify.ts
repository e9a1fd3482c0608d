/**
 * What a collector's HTTP status means for the episode (SPEC §4 table). Pure; the one place the
 * status-code classes are defined.
 */

/** The outcome class of one upload attempt. */
export type OutcomeClass =
  | "stored"
  | "duplicate"
  | "refused"
  | "credentials"
  | "misconfigured"
  | "transient";

const CREDENTIALS = new Set([401, 403, 407]);
const MISCONFIGURED = new Set([404, 405]);
const TRANSIENT_4XX = new Set([408, 425, 429]);

/** Classifies an HTTP status code per SPEC §4. */
export function classifyStatus(status: number): OutcomeClass {
  if (status >= 200 && status < 300) return "stored";
  if (status === 409) return "duplicate";
  if (CREDENTIALS.has(status)) return "credentials";
  if (MISCONFIGURED.has(status) || (status >= 300 && status < 400)) return "misconfigured";
  if (TRANSIENT_4XX.has(status)) return "transient";
  if (status >= 400 && status < 500) return "refused";
  // 5xx, and anything outside the classes HTTP defines, is worth another try later.
  return "transient";
}

/**
 * Parses `Retry-After` (delay-seconds or an HTTP-date) into milliseconds from `now`, or null.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

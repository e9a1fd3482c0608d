/**
 * What a collector's answer (status, body, headers), or the failure to get one, means for the
 * episode: the table of docs/protocol.md. Pure; the one place the outcome classes are defined.
 * {@linkcode responseAnswer} and {@linkcode failureAnswer} put them in a receiver's terms.
 *
 * The rule behind the table: quarantine only what the collector says about *this episode*. An
 * answer about the connection, our credentials or the collector's setup is never the episode's
 * fault, whatever its status code: TLS-terminating proxies answer certificate problems with 400s.
 */
import { STATUS_CODES } from "node:http";
import { HEADER, parseContentDigest, PROBLEM } from "../protocol/protocol.ts";
import type { Answer as ReceiverAnswer } from "./receiver.ts";
import { scrubSecrets } from "./scrub.ts";

/** The outcome class of one upload attempt. */
export type OutcomeClass =
  | "stored"
  | "duplicate"
  | "refused"
  | "credentials"
  | "misconfigured"
  | "transient";

/** Why an attempt got no HTTP answer. */
export type FailureKind =
  | "credentials"
  | "misconfigured"
  | "tls"
  | "network"
  | "timeout"
  | "aborted";

/** A collector's answer as {@linkcode classifyAnswer} reads it. */
export interface Answer {
  status: number;
  /** The first bytes of the body, as text. */
  body: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

/** An answer's class and the likely cause, in words an operator can act on. */
export interface Classified {
  class: OutcomeClass;
  cause: string;
}

const CREDENTIALS = new Map<number, string>([
  [401, "the collector wants a (different) bearer token: check receiver.bearer_token"],
  [403, "the collector refused this host's credentials (client certificate or token)"],
  [407, "a proxy in front of the collector wants credentials"],
  [495, "the collector rejected our TLS client certificate (untrusted CA, expired or revoked)"],
  [496, "the collector requires a TLS client certificate and none was sent"],
]);
const MISCONFIGURED = new Map<number, string>([
  [404, "no such path on the collector: check receiver.url"],
  [405, "the collector does not accept PUT at this path: check receiver.url"],
  [421, "the request reached a server not configured for this host name: check receiver.url"],
  [426, "the collector wants another protocol: check receiver.url (https://)"],
  [431, "a server in front of the collector refuses our request headers as too large"],
  [494, "a server in front of the collector refuses our request headers as too large"],
  [497, "plain HTTP was sent to an HTTPS port: receiver.url must start with https://"],
]);
const TRANSIENT_4XX = new Set([408, 425, 429]);

/** 400 bodies that are about the connection, not the episode (nginx's texts, and kin). */
const HOST_LEVEL_400: readonly { pattern: RegExp; class: OutcomeClass; cause: string }[] = [
  {
    pattern: /no required ssl certificate was sent|client certificate (is )?(required|missing)/i,
    class: "credentials",
    cause: "the collector requires a TLS client certificate and none was sent: " +
      "check receiver.client_cert",
  },
  {
    pattern:
      /ssl certificate error|client certificate (is )?(invalid|expired|revoked|untrusted|not trusted|rejected)/i,
    class: "credentials",
    cause: "the collector rejected our TLS client certificate (untrusted CA, expired or revoked)",
  },
  {
    pattern: /plain http request was sent to https port/i,
    class: "misconfigured",
    cause: "plain HTTP was sent to an HTTPS port: receiver.url must start with https://",
  },
  {
    pattern: /request header or cookie too large/i,
    class: "misconfigured",
    cause: "a server in front of the collector refuses our request headers as too large",
  },
];

/** Classifies an HTTP status code alone per docs/protocol.md (no body rules). */
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

/** Classifies a whole answer per docs/protocol.md: status first, then what a 400's body is about. */
export function classifyAnswer(answer: Answer): Classified {
  const { status } = answer;
  if (status === 400) {
    const text = answerText(answer.body, 4096);
    for (const row of HOST_LEVEL_400) {
      if (row.pattern.test(text)) return { class: row.class, cause: row.cause };
    }
  }
  const cls = classifyStatus(status);
  const cause = CREDENTIALS.get(status) ?? MISCONFIGURED.get(status) ??
    (cls === "misconfigured"
      ? `the collector redirects${
        answer.headers.location ? ` to "${answer.headers.location}"` : ""
      }: set receiver.url to the final address`
      : cls === "stored"
      ? "stored"
      : cls === "duplicate"
      ? "the collector already has this episode"
      : cls === "refused"
      ? "the collector refused this episode"
      : "the collector is unavailable for now");
  return { class: cls, cause };
}

/** The failure as {@linkcode classifyFailure} reads it: a Node-style error's code and message. */
export interface Failure {
  code?: string | undefined;
  message: string;
  /**
   * A plain-HTTP request got a TLS record back (alert 0x15 or handshake 0x16, version 3.x):
   * an `http://` URL pointed at an HTTPS port. @default {false}
   */
  tlsReply?: boolean;
}

/** The cause of a TLS reply to plain HTTP, as `check` and uploads both say it. */
export const TLS_REPLY_CAUSE =
  "plain HTTP was sent to an HTTPS port: receiver.url must start with https://";

/** Whether the first bytes a plain-HTTP request got back are a TLS record. Pure. */
export function isTlsRecord(raw: unknown): boolean {
  return raw instanceof Uint8Array && (raw[0] === 0x15 || raw[0] === 0x16) && raw[1] === 0x03;
}

/** A failure's kind and the likely cause, in words an operator can act on. */
export interface ClassifiedFailure {
  kind: FailureKind;
  cause: string;
}

/** TLS alerts a server sends when it does not accept our client certificate (RFC 8446 §6.2). */
const CERT_ALERTS: readonly { pattern: RegExp; cause: (sentCert: boolean) => string }[] = [
  {
    pattern: /certificate[_ ]?required/i,
    cause: () =>
      "the collector requires a TLS client certificate and none was sent: check receiver.client_cert",
  },
  {
    pattern: /certificate[_ ]?expired/i,
    cause: () => "the collector says our TLS client certificate has expired",
  },
  {
    pattern: /unknown[_ ]?ca/i,
    cause: () => "the collector does not trust the CA that issued our TLS client certificate",
  },
  {
    pattern: /certificate[_ ]?revoked/i,
    cause: () => "the collector says our TLS client certificate is revoked",
  },
  {
    pattern: /bad[_ ]?certificate|certificate[_ ]?unknown|unsupported[_ ]?certificate/i,
    cause: () => "the collector rejected our TLS client certificate",
  },
  { pattern: /access[_ ]?denied/i, cause: () => "the collector denied this host access" },
  {
    pattern: /handshake[_ ]?failure/i,
    cause: (sent) =>
      sent
        ? "the collector aborted the TLS handshake, most likely over our client certificate"
        : "the collector aborted the TLS handshake; no client certificate was sent, " +
          "and it most likely requires one: check receiver.client_cert",
  },
];

/** Codes Node and Deno give when the collector's own certificate fails verification. */
const SERVER_CERT_CODES =
  /^(UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT_ALTNAME)/;

/**
 * Classifies an attempt that got no HTTP answer. `sentCert`: whether a client certificate was
 * configured for the request.
 */
export function classifyFailure(failure: Failure, sentCert: boolean): ClassifiedFailure {
  const code = failure.code ?? "";
  const text = `${code} ${failure.message}`;
  if (failure.tlsReply) return { kind: "misconfigured", cause: TLS_REPLY_CAUSE };
  if (/alert/i.test(text)) {
    for (const row of CERT_ALERTS) {
      if (row.pattern.test(text)) return { kind: "credentials", cause: row.cause(sentCert) };
    }
    return { kind: "tls", cause: `TLS alert from the collector: ${failure.message}` };
  }
  if (SERVER_CERT_CODES.test(code) || /invalid peer certificate/i.test(failure.message)) {
    return {
      kind: "tls",
      cause: "cannot verify the collector's TLS certificate: check receiver.ca_bundle",
    };
  }
  if (/^ERR_SSL|^ERR_TLS/.test(code)) return { kind: "tls", cause: "TLS failure" };
  if (code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT") {
    return { kind: "timeout", cause: "the connection timed out" };
  }
  if (code === "ABORT_ERR") return { kind: "aborted", cause: "aborted" };
  return { kind: "network", cause: "network failure" };
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

/** `text` with its HTML/XML character references (named, decimal, hex) decoded. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const n = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : Number(e.slice(1));
      return Number.isFinite(n) && n > 0 && n < 0x110000 ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * The readable text of a response body: HTML without its head, scripts, tags and the server
 * signature after `<hr>`; entities decoded; whitespace collapsed; at most `limit` characters.
 */
export function answerText(body: string, limit = 300): string {
  let text = body;
  if (/<\/?[a-z][^>]*>/i.test(text)) {
    text = decodeEntities(
      text
        .replace(/<(head|script|style)\b[\s\S]*?<\/\1\s*>/gi, " ")
        .replace(/<hr\b[\s\S]*$/i, " ")
        .replace(/<[^>]*>/g, " "),
    );
  }
  // deno-lint-ignore no-control-regex -- control characters must not reach a log line
  text = text.replace(/[\u0000-\u001f\u007f\s]+/g, " ").trim();
  return text.length > limit ? text.slice(0, limit) + "…" : text;
}

/** "HTTP 400 Bad Request: <text of the body>", the way an answer is quoted in reasons and logs. */
export function describeAnswer(status: number, body: string): string {
  const phrase = STATUS_CODES[status];
  const line = `HTTP ${status}${phrase ? ` ${phrase}` : ""}`;
  // HTML error pages repeat the status line; say it once.
  const text = answerText(body).replace(line.slice(5), "").replace(/^[\s:.-]+/, "").trim();
  return text ? `${line}: ${text}` : line;
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

/** What {@linkcode responseAnswer} and {@linkcode failureAnswer} need beyond the answer. */
export interface AnswerContext {
  /** Now, ms since the epoch (for `Retry-After` dates and our certificate's end date). */
  now: number;
  /** Configured secrets (the bearer token), replaced in every text of the answer. @default {[]} */
  secrets?: readonly string[];
  /** When our client certificate stops being valid, ms since the epoch. @default {unknown} */
  clientCertNotAfter?: number;
  /**
   * The config key the token comes from, named in the hints. @default {"receiver.bearer_token"}
   */
  tokenKey?: string;
}

/** The expired-certificate cause, when our certificate's end date is past. */
function expiredCause(ctx: AnswerContext): string | null {
  const end = ctx.clientCertNotAfter;
  if (end === undefined || end > ctx.now) return null;
  return `our client certificate (receiver.client_cert) expired on ${
    new Date(end).toISOString()
  }: renew it`;
}

/**
 * Whether the collector says the body it received does not match its `Content-Digest` or
 * `Content-Length` (`X-CIS490-Problem: body-mismatch`): our tarball is wrong, repack it.
 */
export function isBodyMismatch(answer: Answer): boolean {
  const value = answer.headers[HEADER.problem]?.trim().toLowerCase();
  return answer.status >= 400 && value === PROBLEM.bodyMismatch;
}

/**
 * A collector's HTTP answer in a receiver's terms: the §4 class, with every text scrubbed of
 * secrets. A 409 carries the digest of what the collector holds (`Repr-Digest`), or null.
 * @example
 * ```ts
 * responseAnswer({ status: 409, body: "", headers: { "repr-digest": "sha-256=:…:" } }, { now: 0 });
 * // { class: "duplicate", status: 409, digest: "…" }
 * ```
 */
export function responseAnswer(answer: Answer, ctx: AnswerContext): ReceiverAnswer {
  const { status } = answer;
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  // Scrubbed before anything is cut short: a secret cut by "…" would no longer match.
  const body = scrub(answer.body);
  const said = scrub(describeAnswer(status, body));
  if (isBodyMismatch(answer)) return { class: "repack", status, said };
  const { class: cls, cause } = classifyAnswer({ ...answer, body });
  switch (cls) {
    case "stored":
      return { class: "stored", status };
    case "duplicate":
      return {
        class: "duplicate",
        status,
        digest: parseContentDigest(answer.headers[HEADER.reprDigest]),
      };
    case "refused":
      return { class: "refused", status, said, body };
    case "credentials":
    case "misconfigured": {
      const note = cls === "credentials" ? expiredCause(ctx) : null;
      const named = ctx.tokenKey ? cause.replace(/receiver\.bearer_token\b/g, ctx.tokenKey) : cause;
      return { class: cls, status, said, cause: scrub(note ?? named) };
    }
    case "transient":
      return {
        class: "transient",
        status,
        said,
        retryAfterMs: parseRetryAfter(answer.headers["retry-after"], ctx.now),
      };
  }
}

/** An attempt that got no HTTP answer, as {@linkcode failureAnswer} reads it. */
export interface FailedAttempt {
  kind: FailureKind;
  /** The likely cause, in words an operator can act on (`UploadError.message`). */
  cause: string;
  /** What the connection said: the TLS alert, the error text. */
  detail: string;
}

/** A failure to get an answer in a receiver's terms: credentials, transient, or aborted. */
export function failureAnswer(failure: FailedAttempt, ctx: AnswerContext): ReceiverAnswer {
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  if (failure.kind === "aborted") return { class: "aborted" };
  if (failure.kind === "credentials") {
    return {
      class: "credentials",
      status: 0,
      said: scrub(failure.detail),
      cause: scrub(expiredCause(ctx) ?? failure.cause),
    };
  }
  if (failure.kind === "misconfigured") {
    return { class: "misconfigured", status: 0, said: scrub(failure.detail), cause: failure.cause };
  }
  const said = failure.detail && failure.detail !== failure.cause
    ? `${failure.cause} (${failure.detail})`
    : failure.cause;
  return { class: "transient", status: 0, said: scrub(said), retryAfterMs: null };
}

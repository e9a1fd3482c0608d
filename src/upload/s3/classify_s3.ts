/**
 * What an S3 store's answer means, in the outcome table's classes ({@linkcode Answer}). Pure.
 *
 * The rule is the collector's: only what the store says about this object is the episode's fault
 * (`EntityTooLarge`). Our key, our clock and the bucket's setup pause the host; a body that does
 * not match our digest is our tarball's fault (repack); the store's own trouble is retried.
 */
import { STATUS_CODES } from "node:http";
import { answerText, classifyAnswer, parseRetryAfter } from "../classify.ts";
import type { UploadError } from "../put.ts";
import type { Answer } from "../receiver.ts";
import { xmlValue } from "./_xml.ts";

/** An answer as the classifier reads it. */
export interface S3Response {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** The first bytes of the body, as text. */
  body: string;
}

/** What the classifier knows besides the answer. */
export interface ClassifyS3Context {
  /** When the request was signed (ms since the epoch, our clock): the skew is measured from it. */
  sentAt: number;
  /** For the words: `"episodes"`. */
  bucket: string;
  /** For the words: `https://rgw.lab:7480`. */
  endpoint: string;
}

/** S3 refuses requests signed further than this from its clock (AWS and RGW: 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;

const CREDENTIALS: Record<string, string> = {
  SignatureDoesNotMatch: "the store computed another signature: the secret in " +
    "receiver.secret_access_key_file does not belong to the access key id, or a proxy " +
    "changed the request",
  InvalidAccessKeyId: "the store knows no such access key id: check " +
    "receiver.access_key_id_file",
  AccessDenied: "the key may not write this object: grant it s3:PutObject (and s3:GetObject, " +
    "for the HEAD that checks a duplicate) on the bucket and prefix",
  InvalidToken: "the store refused the key's session token",
  ExpiredToken: "the key's session token has expired",
  AccountProblem: "the store reports a problem with the key's account",
  UserSuspended: "the store has suspended the key's user",
  AllAccessDisabled: "the store has disabled all access to this bucket",
};

const MISCONFIGURED: Record<string, (ctx: ClassifyS3Context) => string> = {
  NoSuchBucket: (c) =>
    `no bucket "${c.bucket}" at ${c.endpoint}: check receiver.bucket (the shipper never ` +
    "creates one)",
  InvalidBucketName: (c) =>
    `the store refuses the bucket name "${c.bucket}": check receiver.bucket`,
  PermanentRedirect: () =>
    "the bucket is served at another endpoint: check receiver.url and receiver.region",
  TemporaryRedirect: () =>
    "the bucket is served at another endpoint: check receiver.url and receiver.region",
  AuthorizationHeaderMalformed: () => "the store wants another region: check receiver.region",
  NotImplemented: () =>
    "the store does not implement a header this shipper relies on (If-None-Match or " +
    "x-amz-content-sha256)",
  MethodNotAllowed: (c) => `${c.endpoint} does not accept this S3 request: check receiver.url`,
};

const TRANSIENT = new Set([
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "RequestTimeout",
  "OperationAborted",
  "NoSuchUpload",
  "InvalidPart",
  "InvalidPartOrder",
]);

const REPACK = new Set(["XAmzContentSHA256Mismatch", "BadDigest", "IncompleteBody"]);

/** The S3 error code of an answer, or null (HEAD answers and proxies carry none). */
export function s3ErrorCode(body: string): string | null {
  if (!/<Error>/.test(body)) return null;
  return xmlValue(body, "Code");
}

/** Store clock minus our clock at `sentAt`, in ms, from the answer's `Date`; null without one. */
export function clockSkewMs(date: string | undefined, sentAt: number): number | null {
  if (date === undefined) return null;
  const t = Date.parse(date);
  return Number.isNaN(t) ? null : t - sentAt;
}

/** "20 min 3 s behind" or "2 s ahead of": how our clock stands to the store's. */
export function describeSkew(skewMs: number): string {
  const total = Math.round(Math.abs(skewMs) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = [h && `${h} h`, (h || m) && `${m} min`, `${s} s`].filter(Boolean).join(" ");
  // A positive skew is a store ahead of us: our clock is behind.
  return `${parts} ${skewMs > 0 ? "behind" : "ahead of"}`;
}

/** "HTTP 403 Forbidden: SignatureDoesNotMatch (request tx00…)": how an answer is quoted. */
export function describeS3Answer(response: S3Response): string {
  const phrase = STATUS_CODES[response.status];
  const line = `HTTP ${response.status}${phrase ? ` ${phrase}` : ""}`;
  const code = s3ErrorCode(response.body);
  if (code === null) {
    // A proxy's or another server's page: its readable text, as a collector's answer is quoted.
    const text = answerText(response.body).replace(line.slice(5), "").replace(/^[\s:.-]+/, "");
    return text ? `${line}: ${text}` : line;
  }
  const message = xmlValue(response.body, "Message");
  const request = xmlValue(response.body, "RequestId") ?? response.headers["x-amz-request-id"];
  return `${line}: ${code}${message ? ` ${message}` : ""}${request ? ` (request ${request})` : ""}`;
}

function clockAnswer(
  response: S3Response,
  said: string,
  skew: number | null,
  ctx: ClassifyS3Context,
): Answer {
  const store = response.headers.date;
  return {
    class: "clock",
    status: response.status,
    said,
    cause: skew !== null
      ? `this host's clock is ${describeSkew(skew)} the store's (store time ${store}, ` +
        `ours ${new Date(ctx.sentAt).toUTCString()}): fix its time sync (chrony, ` +
        "systemd-timesyncd)"
      : "this host's clock differs from the store's by more than 15 minutes: fix its time sync",
  };
}

/**
 * Classifies an answer to a PUT, part or complete. 2xx: stored; 412: duplicate (digest unknown
 * here: the caller asks with a HEAD). The caller handles what only it can read (a 404 to a HEAD).
 */
export function classifyS3Answer(response: S3Response, ctx: ClassifyS3Context): Answer {
  const { status } = response;
  const code = s3ErrorCode(response.body);
  if (status >= 200 && status < 300 && code === null) return { class: "stored", status };
  const said = describeS3Answer(response);
  if (status === 412) return { class: "duplicate", status, digest: null };
  const skew = clockSkewMs(response.headers.date, ctx.sentAt);
  if (code === "RequestTimeTooSkewed" || code === "RequestExpired") {
    return clockAnswer(response, said, skew, ctx);
  }
  if (code !== null && code in CREDENTIALS) {
    return { class: "credentials", status, said, cause: CREDENTIALS[code] as string };
  }
  const misconfigured = code !== null ? MISCONFIGURED[code] : undefined;
  if (misconfigured) return { class: "misconfigured", status, said, cause: misconfigured(ctx) };
  if (code !== null && REPACK.has(code)) return { class: "repack", status, said };
  if (code === "EntityTooLarge") {
    return { class: "refused", status, said, body: response.body };
  }
  const retryAfterMs = parseRetryAfter(response.headers["retry-after"], ctx.sentAt);
  if ((code !== null && TRANSIENT.has(code)) || status >= 500 || status === 429 || status === 408) {
    return { class: "transient", status, said, retryAfterMs };
  }
  if (status === 401 || status === 403) {
    // No code (a HEAD, or a proxy): a skewed clock is the one cause the answer can still show.
    if (skew !== null && Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
      return clockAnswer(response, said, skew, ctx);
    }
    return {
      class: "credentials",
      status,
      said,
      cause: "the store refused our key or its permissions: check " +
        "receiver.access_key_id_file and receiver.secret_access_key_file",
    };
  }
  if (status >= 300 && status < 400) {
    const to = response.headers.location;
    return {
      class: "misconfigured",
      status,
      said,
      cause: `the store redirects${to ? ` to "${to}"` : ""}: check receiver.url and ` +
        "receiver.path_style",
    };
  }
  if (code === null) {
    // Not the store's own words: a proxy before it (nginx's client-certificate pages) or a
    // server that is not a store. The collector's table knows those answers.
    const generic = classifyAnswer(response);
    if (
      (generic.class === "credentials" || generic.class === "misconfigured") &&
      status !== 404 && status !== 405
    ) {
      return { class: generic.class, status, said, cause: storeWords(generic.cause) };
    }
  }
  if (code === null && (status === 404 || status === 405 || status === 400)) {
    // No S3 error document: not an S3 API at this address (a web server, a proxy's page).
    return {
      class: "misconfigured",
      status,
      said,
      cause: `${ctx.endpoint} did not answer like an S3 store: check receiver.url`,
    };
  }
  return { class: "refused", status, said, body: response.body };
}

/** Classifies an attempt that got no answer (network, TLS, timeout, our own abort). */
export function classifyS3Failure(error: UploadError): Answer {
  if (error.kind === "aborted") return { class: "aborted" };
  if (error.kind === "credentials") {
    return {
      class: "credentials",
      status: 0,
      said: storeWords(error.message),
      cause: "the store (or a proxy before it) refused our TLS client certificate",
    };
  }
  return { class: "transient", status: 0, said: storeWords(error.message), retryAfterMs: null };
}

/** put()'s failure texts speak of "the collector"; here the other end is the store. */
function storeWords(text: string): string {
  return text.replaceAll("the collector's", "the store's").replaceAll(
    "the collector",
    "the store (or a proxy before it)",
  );
}

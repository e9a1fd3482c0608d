/**
 * `check` for an S3 receiver: one signed GET of a key that is never written
 * (`<prefix>/<host_id>/.cis490-check`), which stores nothing and still shows the three things a
 * host can get wrong: the key (the store checks the signature first), the bucket (`NoSuchBucket`
 * or `NoSuchKey`), and the clock (the answer's `Date`, even when the request was refused).
 * The judgement is pure ({@linkcode judgeS3Probe}); {@linkcode checkS3} does the one request.
 */
import type { CheckStep } from "../../config/check_step.ts";
import { UploadError } from "../put.ts";
import {
  classifyS3Answer,
  clockSkewMs,
  describeS3Answer,
  describeSkew,
  MAX_CLOCK_SKEW_MS,
  s3ErrorCode,
  type S3Response,
} from "./classify_s3.ts";
import { S3Client } from "./s3_client.ts";
import type { S3Settings } from "./settings.ts";

/** A clock this far from the store's is worth a warning, though requests still pass. */
export const CLOCK_WARNING_MS = 60_000;

/** The probe's key name under `<prefix>/<host_id>/`; never written by anything. */
export const CHECK_OBJECT = ".cis490-check";

/** What the probe got: an answer (and when it was signed), or why none came. */
export type S3Probe =
  | { response: S3Response; sentAt: number }
  | { error: string }
  /** A signal ended the probe (SIGINT, SIGTERM); `by` names it when known. */
  | { stopped: true; by?: string };

const STEP = {
  credentials: "object store credentials",
  bucket: "object store bucket",
  clock: "object store clock",
} as const;

/** Judges the probe's answer: one step each for the key, the bucket and the clock. Pure. */
export function judgeS3Probe(
  probe: S3Probe,
  settings: Pick<S3Settings, "bucket" | "endpoint" | "prefix">,
): CheckStep[] {
  const where = `bucket "${settings.bucket}" at ${settings.endpoint}`;
  if ("stopped" in probe) {
    const message = `stopped by ${probe.by ?? "a signal"} before the store answered`;
    return [
      { step: STEP.credentials, verdict: "fail", class: "stopped", message },
      { step: STEP.bucket, verdict: "skip", message: "not checked: stopped" },
      { step: STEP.clock, verdict: "skip", message: "not checked: stopped" },
    ];
  }
  if ("error" in probe) {
    const message = `${settings.endpoint} is not reachable: ${probe.error}`;
    return [
      { step: STEP.credentials, verdict: "fail", class: "transient", message },
      { step: STEP.bucket, verdict: "skip", message: "not checked: no answer from the store" },
      { step: STEP.clock, verdict: "skip", message: "not checked: no answer from the store" },
    ];
  }
  const { response, sentAt } = probe;
  const said = describeS3Answer(response);
  const code = s3ErrorCode(response.body);
  const skew = clockSkewMs(response.headers.date, sentAt);
  const clock = judgeClock(skew, code);
  const skip = (why: string) => `not checked: ${why}`;
  const found = (response.status >= 200 && response.status < 300) || code === "NoSuchKey";
  if (found) {
    return [
      { step: STEP.credentials, verdict: "ok", message: `the store accepted the key (${said})` },
      { step: STEP.bucket, verdict: "ok", message: `${where} exists and answers` },
      clock,
    ];
  }
  if (code === "RequestTimeTooSkewed" || code === "RequestExpired") {
    return [
      { step: STEP.credentials, verdict: "skip", message: skip("the store refused our time") },
      { step: STEP.bucket, verdict: "skip", message: skip("the store refused our time") },
      clock,
    ];
  }
  if (code === "NoSuchBucket") {
    return [
      { step: STEP.credentials, verdict: "ok", message: "the store accepted the key" },
      {
        step: STEP.bucket,
        verdict: "fail",
        class: "misconfigured",
        message: `no ${where}: create it, or fix receiver.bucket (${said})`,
      },
      clock,
    ];
  }
  if (code === "AccessDenied") {
    return [
      {
        step: STEP.credentials,
        verdict: "warn",
        message: "the store knows the key, but it may not read under " +
          `"${settings.prefix || "/"}": grant s3:GetObject too, or a duplicate (a 412) ` +
          `pauses the host instead of being recognised (${said})`,
      },
      { step: STEP.bucket, verdict: "skip", message: skip("the key may not read it") },
      clock,
    ];
  }
  const answer = classifyS3Answer(response, { sentAt, ...settings });
  const cause = "cause" in answer ? `: ${answer.cause}` : "";
  if (answer.class === "credentials" || answer.class === "clock") {
    return [
      {
        step: STEP.credentials,
        verdict: "fail",
        class: answer.class === "clock" ? "misconfigured" : "credentials",
        message: `${said}${cause}`,
      },
      { step: STEP.bucket, verdict: "skip", message: skip("the key was refused") },
      clock,
    ];
  }
  if (answer.class === "transient") {
    return [
      {
        step: STEP.credentials,
        verdict: "fail",
        class: "transient",
        message: `the store is not available: ${said}`,
      },
      { step: STEP.bucket, verdict: "skip", message: skip("the store is not available") },
      clock,
    ];
  }
  return [
    { step: STEP.credentials, verdict: "skip", message: skip(`the store answered ${said}`) },
    { step: STEP.bucket, verdict: "fail", class: "misconfigured", message: `${said}${cause}` },
    clock,
  ];
}

function judgeClock(skew: number | null, code: string | null): CheckStep {
  if (skew === null) {
    return code === "RequestTimeTooSkewed"
      ? {
        step: STEP.clock,
        verdict: "fail",
        class: "misconfigured",
        message: "the store says this host's clock is more than 15 minutes off: fix its time sync",
      }
      : { step: STEP.clock, verdict: "skip", message: "not checked: the answer had no Date" };
  }
  const words = `this host's clock is ${describeSkew(skew)} the store's`;
  if (Math.abs(skew) >= MAX_CLOCK_SKEW_MS || code === "RequestTimeTooSkewed") {
    return {
      step: STEP.clock,
      verdict: "fail",
      class: "misconfigured",
      message: `${words}: the store refuses requests 15 minutes off; fix its time sync ` +
        "(chrony, systemd-timesyncd)",
    };
  }
  if (Math.abs(skew) >= CLOCK_WARNING_MS) {
    return {
      step: STEP.clock,
      verdict: "warn",
      message: `${words}: fix its time sync before it reaches 15 minutes`,
    };
  }
  return { step: STEP.clock, verdict: "ok", message: `${words} (within a minute)` };
}

/** Options for {@linkcode checkS3}. */
export interface CheckS3Options {
  /** The signing clock. @default {Date.now} */
  now?: () => number;
  /** Ends the probe at once (SIGINT, SIGTERM): a "stopped" step. @default {none} */
  signal?: AbortSignal;
}

/**
 * Probes the bucket with one signed GET that stores nothing and judges the answer.
 * @example
 * ```ts
 * for (const step of await checkS3(settings, "lab-01")) console.log(step.verdict, step.message);
 * ```
 */
export async function checkS3(
  settings: S3Settings,
  hostId: string,
  options: CheckS3Options = {},
): Promise<CheckStep[]> {
  const client = new S3Client(settings, {
    maxSockets: 1,
    ...(options.now && { now: options.now }),
  });
  const key = [settings.prefix, hostId, CHECK_OBJECT].filter((s) => s !== "").join("/");
  try {
    const answer = await client.send({
      method: "GET",
      key,
      headers: { range: "bytes=0-0" },
      ...(options.signal && { signal: options.signal }),
    });
    return judgeS3Probe({ response: answer, sentAt: answer.sentAt }, settings);
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    if (options.signal?.aborted) {
      const reason = options.signal.reason;
      return judgeS3Probe(
        { stopped: true, ...(reason instanceof Error && { by: reason.message }) },
        settings,
      );
    }
    return judgeS3Probe({ error: error.message }, settings);
  } finally {
    client.close();
  }
}

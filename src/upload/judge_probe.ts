/**
 * What `check`'s round trip means, judged by the classifier uploads use (classify.ts): the same
 * answer gets the same class from `check` as from `--once`. Pure.
 */
import type { CheckStep, StepClass } from "../config/check_step.ts";
import { type Answer, classifyAnswer, classifyFailure, describeAnswer } from "./classify.ts";
import type { Observation, ProbeResult } from "./probe.ts";
import { scrubSecrets } from "./scrub.ts";

/** What {@linkcode judgeProbe} needs besides the observations. */
export interface ProbeContext {
  /** `receiver.url`. */
  url: string;
  /** The key that holds the token (`receiver.bearer_token` or `receiver.bearer_token_file`). */
  tokenKey: string;
  /** Whether a bearer token is configured. */
  hasToken: boolean;
  /** Configured secrets, removed from every text quoted. */
  secrets: readonly string[];
  /** The signal that stopped the probe, when one did (`SIGINT`). */
  stoppedBy?: string;
}

const STEP = "collector";

/** The classifier's hint, naming the token key really in use. */
function hint(cause: string, ctx: ProbeContext): string {
  return cause.replace(/receiver\.bearer_token(?!_file)/g, ctx.tokenKey);
}

function failStep(cls: StepClass, message: string): CheckStep {
  return { step: STEP, verdict: "fail", class: cls, message };
}

/** A step for an observation that is not an HTTP answer. */
function judgeNoAnswer(
  seen: Exclude<Observation, { kind: "answer" }>,
  what: string,
  sentCert: boolean,
  ctx: ProbeContext,
): CheckStep {
  if (seen.kind === "aborted") {
    return failStep(
      "stopped",
      `stopped by ${ctx.stoppedBy ?? "a signal"} before ${what} was answered`,
    );
  }
  if (seen.kind === "continue") {
    return {
      step: STEP,
      verdict: "ok",
      message: `${what} would be received (100 Continue); nothing was sent`,
    };
  }
  if (seen.tlsReply) {
    // What nginx answers with 497: classified as nginx's answer would be.
    return judgeAnswer({ status: 497, body: "", headers: {} }, what, ctx, "answered in TLS");
  }
  const { kind, cause } = classifyFailure(
    { code: seen.code, message: seen.message },
    sentCert,
  );
  const detail = `${what}: ${hint(cause, ctx)} (${scrubSecrets(seen.message, ctx.secrets)}${
    seen.code ? `, ${seen.code}` : ""
  })`;
  if (kind === "credentials") return failStep("credentials", detail);
  if (kind === "aborted") return failStep("stopped", detail);
  return failStep("transient", `no answer to ${detail}: try again later`);
}

/** A step for an HTTP answer, by the upload classifier's class. */
function judgeAnswer(answer: Answer, what: string, ctx: ProbeContext, said?: string): CheckStep {
  const { class: cls, cause } = classifyAnswer(answer);
  const text = said ??
    `answered ${describeAnswer(answer.status, scrubSecrets(answer.body, ctx.secrets))}`;
  switch (cls) {
    case "stored":
      return { step: STEP, verdict: "ok", message: `${what} ${text}` };
    case "duplicate":
      return {
        step: STEP,
        verdict: "ok",
        message:
          `${what} ${text}: the collector already has the probe episode, so the URL is right`,
      };
    case "refused":
      return {
        step: STEP,
        verdict: "ok",
        message: `${what} ${text}: the collector judged the probe episode itself, ` +
          "so URL and credentials are accepted",
      };
    case "credentials":
    case "misconfigured":
      return failStep(cls, `${what} ${text}; likely cause: ${hint(cause, ctx)}`);
    case "transient":
      return failStep(
        "transient",
        `${what} ${text}: the collector is not available now, try later`,
      );
  }
}

/**
 * The steps of the round trip: one for the collector, and one naming what could not be verified.
 * @example
 * ```ts
 * const steps = judgeProbe(await probeCollector(config), { url, tokenKey, hasToken, secrets });
 * ```
 */
export function judgeProbe(result: ProbeResult, ctx: ProbeContext): CheckStep[] {
  const health = `GET ${ctx.url}/v1/health`;
  if (result.health.kind !== "answer") {
    return [judgeNoAnswer(result.health, health, result.sentCert, ctx)];
  }
  if (!result.put) {
    const { status } = result.health;
    if (status >= 200 && status < 300) {
      return [{
        step: STEP,
        verdict: "ok",
        message:
          `${health} answered ${
            describeAnswer(status, scrubSecrets(result.health.body, ctx.secrets))
          }: ` +
          `TLS, client certificate${ctx.hasToken ? " and bearer token" : ""} accepted`,
      }];
    }
    return [judgeAnswer(result.health, health, ctx)];
  }
  const put = `PUT ${result.put.path} (Expect: 100-continue, no body)`;
  const seen = result.put.seen;
  const step = seen.kind === "answer"
    ? judgeAnswer(seen, put, ctx)
    : judgeNoAnswer(seen, put, result.sentCert, ctx);
  const steps = [step];
  if (step.verdict === "ok" && ctx.hasToken && seen.kind === "continue") {
    steps.push({
      step: "bearer token",
      verdict: "warn",
      message: `not verified (${ctx.tokenKey}): the server has no health route and asked for the ` +
        "body before any token check (nginx does not check tokens); the collector behind it " +
        "checks it at the first upload",
    });
  }
  return steps;
}

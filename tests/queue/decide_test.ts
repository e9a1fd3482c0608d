import { assert, assertEquals } from "../support/assert.ts";
/**
 * The outcome table end to end for the collector: an HTTP answer (or failure) through the
 * collector receiver's classes, then `decide()` (invariant 5 of `mod.ts`: only what the receiver
 * says about this episode quarantines it).
 */
import {
  type Action,
  conflictReason,
  decide,
  type DecideContext,
  REPACK_LIMIT,
} from "../../src/queue/decide.ts";
import { JITTER, RETRY_AFTER_CAP_MS, retryDelayMs } from "../../src/queue/backoff.ts";
import { failureAnswer, responseAnswer } from "../../src/upload/classify.ts";
import type { FailureKind } from "../../src/upload/classify.ts";

const NOW = Date.parse("2026-11-27T10:00:00Z");
const ctx: DecideContext = {
  attempts: 0,
  repacks: 0,
  sha256: "ours",
  backoffSeconds: [1, 2, 4],
  now: NOW,
  random: () => 0.5,
};
const answer = (status: number, body = "", headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

/** An HTTP answer or failure, through the receiver and decide(), with `c`'s secrets. */
function decideHttp(
  result: ReturnType<typeof answer> | { error: string; kind?: FailureKind },
  c: DecideContext = ctx,
): Action {
  const ctx = {
    now: c.now,
    secrets: c.secrets ?? [],
    ...(c.clientCertNotAfter !== undefined && { clientCertNotAfter: c.clientCertNotAfter }),
  };
  const answer = "error" in result
    ? failureAnswer(
      { kind: result.kind ?? "network", cause: result.error, detail: result.error },
      ctx,
    )
    : responseAnswer(result, ctx);
  return decide(answer, c);
}

Deno.test("decide() ships on 2xx, and on a 409 without a digest as an unconfirmed duplicate", () => {
  assertEquals(decideHttp(answer(201), ctx), {
    kind: "ship",
    duplicate: false,
    unconfirmed: false,
    status: 201,
  });
  assertEquals(decideHttp(answer(409), ctx), {
    kind: "ship",
    duplicate: true,
    unconfirmed: true,
    status: 409,
  });
});

Deno.test("decide() quarantines a permanent refusal with the collector's words", () => {
  const action = decideHttp(answer(400, "commit missing. Remediation: update the host\nmore"), ctx);
  assertEquals(action, {
    kind: "quarantine",
    status: 400,
    body: "commit missing. Remediation: update the host\nmore",
    reason:
      "collector refused the episode: HTTP 400 Bad Request: commit missing. Remediation: update the host more",
  } as Action);
});

const nginxSslError =
  "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

Deno.test("decide() pauses, never quarantines, on a 400 about our TLS client certificate", () => {
  assertEquals(decideHttp(answer(400, nginxSslError), ctx), {
    kind: "pause",
    why: "credentials",
    status: 400,
    message:
      "HTTP 400 Bad Request: The SSL certificate error (likely cause: the collector rejected our TLS client certificate (untrusted CA, expired or revoked))",
  });
  const plain = decideHttp(answer(400, "The plain HTTP request was sent to HTTPS port"), ctx);
  assertEquals([plain.kind, (plain as { why: string }).why], ["pause", "misconfigured"]);
  for (const status of [495, 496]) assertEquals(decideHttp(answer(status), ctx).kind, "pause");
  for (const status of [421, 426, 431, 494, 497]) {
    assertEquals((decideHttp(answer(status), ctx) as { why: string }).why, "misconfigured");
  }
});

Deno.test("decide() names our expired client certificate, with its date, as the cause", () => {
  const expired = { ...ctx, clientCertNotAfter: Date.parse("2020-02-01T00:00:00Z") };
  assertEquals(decideHttp(answer(400, nginxSslError), expired), {
    kind: "pause",
    why: "credentials",
    status: 400,
    message:
      "HTTP 400 Bad Request: The SSL certificate error (likely cause: our client certificate (receiver.client_cert) expired on 2020-02-01T00:00:00.000Z: renew it)",
  });
  assertEquals(
    decideHttp({
      error: "the collector says our TLS client certificate has expired",
      kind: "credentials",
    }, expired),
    {
      kind: "pause",
      why: "credentials",
      status: 0,
      message:
        "our client certificate (receiver.client_cert) expired on 2020-02-01T00:00:00.000Z: renew it (the collector says our TLS client certificate has expired)",
    },
  );
  const valid = { ...ctx, clientCertNotAfter: NOW + 1 };
  assertEquals(decideHttp({ error: "unknown CA", kind: "credentials" }, valid), {
    kind: "pause",
    why: "credentials",
    status: 0,
    message: "unknown CA",
  });
});

Deno.test("decide() retries TLS, network, timeout and unlabelled failures", () => {
  for (const kind of ["tls", "network", "timeout", undefined] as const) {
    const attempt = kind ? { error: "x", kind } : { error: "x" };
    assertEquals(decideHttp(attempt, ctx).kind, "retry", String(kind));
  }
});

Deno.test("decide() scrubs configured secrets from every text of the action", () => {
  const token = "tok-s3cret-abcdef";
  const secrets = [token];
  const echoed = `<pre>authorization: Bearer ${token}</pre>`;
  const quarantined = decideHttp(answer(400, echoed), { ...ctx, secrets });
  assertEquals(quarantined, {
    kind: "quarantine",
    status: 400,
    body: "<pre>authorization: Bearer [redacted]</pre>",
    reason: "collector refused the episode: HTTP 400 Bad Request: authorization: Bearer [redacted]",
  });
  for (const status of [401, 503]) {
    assert(
      !JSON.stringify(decideHttp(answer(status, echoed), { ...ctx, secrets })).includes(token),
    );
  }
  const failed = decideHttp({ error: `echo ${token}` }, { ...ctx, secrets });
  assertEquals((failed as { error: string }).error, "echo [redacted]");
});

Deno.test("decide() pauses on credential and URL problems without touching attempts", () => {
  assertEquals(decideHttp(answer(401, "bad token"), ctx), {
    kind: "pause",
    why: "credentials",
    status: 401,
    message:
      "HTTP 401 Unauthorized: bad token (likely cause: the collector wants a (different) bearer token: check receiver.bearer_token)",
  });
  assertEquals(decideHttp(answer(302, "", { location: "https://elsewhere/" }), ctx), {
    kind: "pause",
    why: "misconfigured",
    status: 302,
    message:
      'HTTP 302 Found (likely cause: the collector redirects to "https://elsewhere/": set receiver.url to the final address)',
  });
});

Deno.test("decide() retries transient failures on the schedule, capped at its last entry", () => {
  const at = (attempts: number) => decideHttp({ error: "ECONNREFUSED" }, { ...ctx, attempts });
  assertEquals(at(0), {
    kind: "retry",
    attempts: 1,
    nextAttemptAt: NOW + 1000,
    error: "ECONNREFUSED",
    retryAfterMs: null,
  });
  assertEquals((at(1) as { nextAttemptAt: number }).nextAttemptAt, NOW + 2000);
  assertEquals((at(2) as { nextAttemptAt: number }).nextAttemptAt, NOW + 4000);
  assertEquals((at(7) as { nextAttemptAt: number }).nextAttemptAt, NOW + 4000);
});

Deno.test("decide() honours Retry-After when it asks for longer than the schedule", () => {
  const action = decideHttp(answer(503, "busy", { "retry-after": "120" }), ctx);
  assertEquals(action, {
    kind: "retry",
    attempts: 1,
    nextAttemptAt: NOW + 120_000,
    error: "HTTP 503 Service Unavailable: busy",
    retryAfterMs: 120_000,
  });
});

Deno.test("retryDelayMs() jitters within ±20% and caps Retry-After at an hour", () => {
  assertEquals(retryDelayMs(0, [10], null, () => 0), 10_000 * (1 - JITTER));
  assertEquals(
    retryDelayMs(0, [10], null, () => 0.999999),
    Math.round(10_000 * (1 + JITTER * 0.999999)),
  );
  assertEquals(retryDelayMs(0, [10], 86_400_000, () => 0.5), RETRY_AFTER_CAP_MS);
});

Deno.test("decide() scrubs a secret before the reason is cut short, so no prefix of it survives", () => {
  const token = "f3a9c1d2e4b5a6978812345678901234567890abcdefabcdefabcdefabcdef12";
  for (let pad = 240; pad < 320; pad += 7) {
    const echoed = `<pre>${"a".repeat(pad)} authorization: Bearer ${token}</pre>`;
    const action = decideHttp(answer(400, echoed), { ...ctx, secrets: [token] });
    assert(
      !JSON.stringify(action).includes(token.slice(0, 6)),
      `pad ${pad}: ${JSON.stringify(action)}`,
    );
  }
});

Deno.test("decide() reads a 409 by the digest the receiver holds: same bytes ship, other bytes quarantine naming both", () => {
  const dup = (digest: string | null) => decide({ class: "duplicate", status: 409, digest }, ctx);
  assertEquals(dup("ours"), { kind: "ship", duplicate: true, unconfirmed: false, status: 409 });
  assertEquals(dup(null), { kind: "ship", duplicate: true, unconfirmed: true, status: 409 });
  const other = dup("theirs");
  assertEquals(other, {
    kind: "quarantine",
    status: 409,
    body: "",
    reason: conflictReason("theirs", "ours"),
  });
  const reason = (other as { reason: string }).reason;
  assert(reason.includes("sha-256=:theirs:") && reason.includes("sha-256=:ours:"), reason);
  assert(/rename the episode directory/i.test(reason), reason);
});

Deno.test("decide() repacks on a damaged-body answer, never quarantines it, and backs off once fresh packs keep failing", () => {
  const damaged = { class: "repack" as const, status: 400, said: "digest mismatch" };
  for (let repacks = 0; repacks < REPACK_LIMIT - 1; repacks++) {
    assertEquals(decide(damaged, { ...ctx, repacks }), {
      kind: "repack",
      reason: "digest mismatch",
    });
  }
  const tired = decide(damaged, { ...ctx, repacks: REPACK_LIMIT - 1 });
  assertEquals(tired.kind, "retry");
});

Deno.test("decide() pauses the host on a clock problem, never blaming the episode", () => {
  const action = decide({
    class: "clock",
    status: 403,
    said: "HTTP 403 Forbidden: RequestTimeTooSkewed",
    cause: "this host's clock is 20 minutes off",
  }, ctx);
  assertEquals(action, {
    kind: "pause",
    why: "clock",
    status: 403,
    message:
      "HTTP 403 Forbidden: RequestTimeTooSkewed (likely cause: this host's clock is 20 minutes off)",
  });
});

Deno.test("decide() says nothing happened when our own stop aborted the send", () => {
  assertEquals(decide({ class: "aborted" }, ctx), { kind: "stopped" });
});

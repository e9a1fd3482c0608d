import { assertEquals } from "../support/assert.ts";
import { type Action, decide } from "../../src/queue/outcome.ts";
import { JITTER, RETRY_AFTER_CAP_MS, retryDelayMs } from "../../src/queue/backoff.ts";

const NOW = Date.parse("2026-11-27T10:00:00Z");
const ctx = { attempts: 0, backoffSeconds: [1, 2, 4], now: NOW, random: () => 0.5 };
const answer = (status: number, body = "", headers: Record<string, string> = {}) => ({
  status,
  body,
  headers,
});

Deno.test("decide() ships on 2xx and on 409 as a duplicate", () => {
  assertEquals(decide(answer(201), ctx), { kind: "ship", duplicate: false, status: 201 });
  assertEquals(decide(answer(409), ctx), { kind: "ship", duplicate: true, status: 409 });
});

Deno.test("decide() quarantines a permanent refusal with the collector's words", () => {
  const action = decide(answer(400, "commit missing. Remediation: update the host\nmore"), ctx);
  assertEquals(action, {
    kind: "quarantine",
    status: 400,
    body: "commit missing. Remediation: update the host\nmore",
    reason:
      "collector refused the episode with HTTP 400: commit missing. Remediation: update the host",
  } as Action);
});

Deno.test("decide() pauses on credential and URL problems without touching attempts", () => {
  assertEquals(decide(answer(401, "bad token"), ctx), {
    kind: "pause",
    why: "credentials",
    status: 401,
    message: "HTTP 401: bad token",
  });
  assertEquals(decide(answer(302, "", { location: "https://elsewhere/" }), ctx), {
    kind: "pause",
    why: "misconfigured",
    status: 302,
    message: "HTTP 302 (redirect to https://elsewhere/)",
  });
});

Deno.test("decide() retries transient failures on the schedule, capped at its last entry", () => {
  const at = (attempts: number) => decide({ error: "ECONNREFUSED" }, { ...ctx, attempts });
  assertEquals(at(0), {
    kind: "retry",
    attempts: 1,
    nextAttemptAt: NOW + 1000,
    error: "ECONNREFUSED",
  });
  assertEquals((at(1) as { nextAttemptAt: number }).nextAttemptAt, NOW + 2000);
  assertEquals((at(2) as { nextAttemptAt: number }).nextAttemptAt, NOW + 4000);
  assertEquals((at(7) as { nextAttemptAt: number }).nextAttemptAt, NOW + 4000);
});

Deno.test("decide() honours Retry-After when it asks for longer than the schedule", () => {
  const action = decide(answer(503, "busy", { "retry-after": "120" }), ctx);
  assertEquals(action, {
    kind: "retry",
    attempts: 1,
    nextAttemptAt: NOW + 120_000,
    error: "HTTP 503: busy",
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

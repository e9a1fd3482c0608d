import { assert, assertEquals } from "../support/assert.ts";
import {
  admission,
  afterAnswer,
  afterFailure,
  type Gate,
  OPEN,
  UNPROVEN,
} from "../../src/queue/gate.ts";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const SCHEDULE = [1, 2, 4, 8];
const MAX = 3600_000;

Deno.test("admission() lets one probe through before the collector has answered, then opens", () => {
  assertEquals(admission(UNPROVEN, NOW, MAX), "probe");
  assertEquals(admission(afterAnswer(UNPROVEN), NOW, MAX), "open");
  assertEquals(admission(OPEN, NOW, MAX), "open");
});

Deno.test("afterFailure() pauses the host on the backoff schedule, one probe per step, capped", () => {
  let gate: Gate = OPEN;
  let t = NOW;
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    gate = afterFailure(gate, { why: "collector-down", message: "HTTP 503", retryAfterMs: null }, {
      now: t,
      backoffSeconds: SCHEDULE,
      random: () => 0.5,
    });
    assert(gate.paused);
    delays.push(gate.paused.nextProbeAt - t);
    assertEquals(admission(gate, t, MAX), "closed");
    assertEquals(admission(gate, gate.paused.nextProbeAt - 1, MAX), "closed");
    assertEquals(admission(gate, gate.paused.nextProbeAt, MAX), "probe");
    assertEquals(gate.paused.since, NOW);
    assertEquals(gate.paused.failures, i + 1);
    t = gate.paused.nextProbeAt;
  }
  assertEquals(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
  assertEquals(admission(afterAnswer(gate), t, MAX), "open");
});

Deno.test("afterFailure() jitters within ±20% and honours a longer Retry-After", () => {
  for (const r of [0, 0.25, 0.999]) {
    const gate = afterFailure(
      OPEN,
      { why: "credentials", message: "HTTP 401", retryAfterMs: null },
      {
        now: NOW,
        backoffSeconds: [10],
        random: () => r,
      },
    );
    const delay = gate.paused!.nextProbeAt - NOW;
    assert(delay >= 8000 && delay < 12000, `delay ${delay}`);
    assertEquals(gate.paused!.why, "credentials");
  }
  const asked = afterFailure(
    OPEN,
    { why: "collector-down", message: "429", retryAfterMs: 120_000 },
    {
      now: NOW,
      backoffSeconds: SCHEDULE,
      random: () => 0.5,
    },
  );
  assertEquals(asked.paused!.nextProbeAt - NOW, 120_000);
});

Deno.test("admission() treats a probe time beyond the longest wait as due (clock jumped back)", () => {
  const gate = afterFailure(OPEN, { why: "collector-down", message: "x", retryAfterMs: null }, {
    now: NOW + 10 * 365 * 86400_000,
    backoffSeconds: SCHEDULE,
    random: () => 0.5,
  });
  assertEquals(admission(gate, NOW, MAX), "probe");
});

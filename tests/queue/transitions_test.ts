/** Every outbox state change as a table: old state and event in, new state out. */
import { assertEquals } from "../support/assert.ts";
import { COMMIT } from "../../devkit/fixtures.ts";
import { emptyState, type EpisodeState, parseState } from "../../src/queue/state.ts";
import {
  answered,
  intentOfVerdict,
  localFailed,
  localFailuresExhausted,
  packed,
  quarantineDecided,
  quarantineDestChosen,
  repackRequested,
  retryScheduled,
} from "../../src/queue/transitions.ts";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const tarball = {
  compression: "gzip" as const,
  size: 10,
  sha256: "abc",
  commit: COMMIT,
  packed_at: new Date(NOW).toISOString(),
};
const base: EpisodeState = { ...emptyState("ep-1"), packed: tarball };
const ctx = { now: NOW, backoffSeconds: [1, 2], random: () => 0.5 };

Deno.test("packed() keeps the attempt count, forgets local failures and a stale resume point", () => {
  const before = {
    ...base,
    attempts: 2,
    resume: { uploadId: "u" },
    local: localFailed(base, "x", ctx).local,
  };
  const after = packed(before, { ...tarball, sha256: "new" });
  assertEquals(after.attempts, 2);
  assertEquals(after.local, null);
  assertEquals("resume" in after, false);
  assertEquals(after.packed.sha256, "new");
});

Deno.test("answered() records each kind of answer, and drops the resume point", () => {
  const withResume = { ...base, resume: 1 };
  const table = [
    [{ kind: "ship", duplicate: false, unconfirmed: false, status: 201 }, {
      kind: "ship",
      duplicate: false,
      status: 201,
      reason: null,
      body: null,
    }],
    [{ kind: "ship", duplicate: true, unconfirmed: true, status: 409 }, {
      kind: "ship",
      duplicate: true,
      unconfirmed: true,
      status: 409,
      reason: null,
      body: null,
    }],
    [{ kind: "quarantine", status: 400, body: "no", reason: "refused" }, {
      kind: "quarantine",
      duplicate: false,
      status: 400,
      reason: "refused",
      body: "no",
    }],
  ] as const;
  for (const [action, verdict] of table) {
    const after = answered(withResume, action, NOW);
    assertEquals(after.verdict, { ...verdict, at: new Date(NOW).toISOString() });
    assertEquals("resume" in after, false);
  }
});

Deno.test("retryScheduled() and repackRequested() record what the next attempt needs", () => {
  const retry = retryScheduled(base, {
    kind: "retry",
    attempts: 3,
    nextAttemptAt: NOW + 4000,
    error: "HTTP 503",
    retryAfterMs: null,
  });
  assertEquals([retry.attempts, retry.next_attempt_at, retry.last_error], [
    3,
    new Date(NOW + 4000).toISOString(),
    "HTTP 503",
  ]);
  const repack = repackRequested({ ...base, resume: 1 }, "digest mismatch");
  // The format is kept, so the new tarball is what the receiver may already hold.
  assertEquals([repack.packed, repack.repacks, repack.last_error, "resume" in repack], [
    tarball,
    1,
    "digest mismatch",
    false,
  ]);
});

Deno.test("localFailed() counts only identical failures in a row, on the backoff schedule", () => {
  const one = localFailed(base, "ENOSPC", ctx);
  assertEquals(one.local, {
    failures: 1,
    error: "ENOSPC",
    next_at: new Date(NOW + 1000).toISOString(),
  });
  const two = localFailed(one, "ENOSPC", ctx);
  assertEquals(two.local?.failures, 2);
  assertEquals(two.local?.next_at, new Date(NOW + 2000).toISOString());
  assertEquals(localFailed(two, "EIO", ctx).local?.failures, 1, "another error starts over");
  let s: EpisodeState = base;
  for (let i = 0; i < 5; i++) s = localFailed(s, "ENAMETOOLONG", ctx);
  assertEquals(localFailuresExhausted(s), true);
  assertEquals(localFailuresExhausted(localFailed(base, "x", ctx)), false);
});

Deno.test("quarantineDecided() keeps a chosen name, and a refusal becomes an intent with its answer", () => {
  const verdict = answered(base, { kind: "quarantine", status: 412, body: "b", reason: "r" }, NOW);
  const intent = quarantineDecided(verdict, intentOfVerdict(verdict));
  assertEquals(intent.intent, {
    source: "collector",
    reason: "r",
    http_status: 412,
    response_body: "b",
    commit: COMMIT,
    at: new Date(NOW).toISOString(),
    dest: null,
  });
  const named = quarantineDestChosen(intent, "ep-1.2");
  assertEquals(quarantineDecided(named, intentOfVerdict(verdict)).intent.dest, "ep-1.2");
});

Deno.test("parseState() reads this version's states and 0.2's flat ones, and refuses torn or foreign files", () => {
  const flat = {
    episode_id: "ep-1",
    ...tarball,
    attempts: 1,
    next_attempt_at: null,
    last_error: "x",
  };
  assertEquals(parseState(JSON.stringify(flat)), {
    ...emptyState("ep-1"),
    packed: tarball,
    attempts: 1,
    last_error: "x",
  });
  assertEquals(parseState(JSON.stringify(base)), base);
  for (const text of ["", '{"episode_id":"ep-1","packed":null,"attempts":0', "[]", '{"a":1}']) {
    assertEquals(parseState(text), null, JSON.stringify(text));
  }
});

/** The planner's table: which step each state leads to (invariants 2 and 3 of `mod.ts`). */
import { assertEquals } from "../support/assert.ts";
import { planEpisode, waitsUntil } from "../../src/queue/planner.ts";
import { emptyState, type EpisodeState } from "../../src/queue/state.ts";
import { longestWaitMs } from "../../src/queue/backoff.ts";
import { COMMIT } from "../../devkit/fixtures.ts";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const MAX = longestWaitMs([1, 2, 4, 300]);

function state(fields: Partial<EpisodeState> = {}): EpisodeState {
  return {
    ...emptyState("ep-1"),
    packed: {
      compression: "gzip",
      size: 10,
      sha256: "x",
      commit: COMMIT,
      packed_at: new Date(NOW).toISOString(),
    },
    ...fields,
  };
}

const verdict = {
  kind: "ship" as const,
  duplicate: false,
  status: 201,
  reason: null,
  body: null,
  at: new Date(NOW).toISOString(),
};

const intent = {
  source: "preflight" as const,
  reason: "meta.json is missing",
  http_status: null,
  response_body: null,
  commit: null,
  at: new Date(NOW).toISOString(),
  dest: null,
};

Deno.test("planEpisode() follows intent, verdict, backoff, tarball and nothing, in that order", () => {
  const base = { tarballWhole: false, now: NOW, maxWaitMs: MAX };
  assertEquals(planEpisode({ ...base, state: null }), { kind: "prepare", state: null });
  const s = state();
  assertEquals(planEpisode({ ...base, state: s }), { kind: "prepare", state: s });
  assertEquals(planEpisode({ ...base, state: s, tarballWhole: true }), {
    kind: "upload",
    state: s,
  });
  const answered = state({ verdict });
  assertEquals(planEpisode({ ...base, state: answered, tarballWhole: true }), {
    kind: "finish",
    state: answered,
  });
  // Invariant 3: a decided quarantine is finished before anything else, even over a verdict.
  const decided = state({ verdict, intent });
  assertEquals(planEpisode({ ...base, state: decided }), {
    kind: "finish-quarantine",
    state: decided,
  });
  const later = new Date(NOW + 60_000).toISOString();
  const waiting = state({ attempts: 3, next_attempt_at: later, last_error: "HTTP 503" });
  assertEquals(planEpisode({ ...base, tarballWhole: true, state: waiting }), {
    kind: "wait",
    until: NOW + 60_000,
    why: "backing off after 3 failed attempt(s): HTTP 503",
    state: waiting,
  });
  // A verdict is finished even while the episode's upload backoff runs…
  assertEquals(
    planEpisode({ ...base, state: state({ verdict, next_attempt_at: later }) }).kind,
    "finish",
  );
  // …but a local failure (the move itself failing) backs off on the schedule.
  const local = state({
    verdict,
    local: { failures: 2, error: "EACCES", next_at: new Date(NOW + 2000).toISOString() },
  });
  assertEquals(planEpisode({ ...base, state: local }), {
    kind: "wait",
    until: NOW + 2000,
    why: "backing off after 2 local failure(s): EACCES",
    state: local,
  });
});

Deno.test("planEpisode() treats a next attempt further away than any backoff as due (clock jumped back)", () => {
  const years = new Date(NOW + 3 * 365 * 86400_000).toISOString();
  const s = state({ attempts: 4, next_attempt_at: years, last_error: "HTTP 503" });
  const step = planEpisode({ state: s, tarballWhole: true, now: NOW, maxWaitMs: MAX });
  assertEquals(step, { kind: "upload", state: s });
  assertEquals(waitsUntil(Date.parse(years), NOW, MAX), { waits: false, clockJump: true });
  assertEquals(waitsUntil(NOW + MAX, NOW, MAX), { waits: true, clockJump: false });
  assertEquals(waitsUntil(NOW, NOW, MAX), { waits: false, clockJump: false });
  assertEquals(waitsUntil(Number.NaN, NOW, MAX), { waits: false, clockJump: false });
});

Deno.test("longestWaitMs() covers the schedule with jitter and the Retry-After cap", () => {
  assertEquals(longestWaitMs([1, 2]), 3600_000);
  assertEquals(longestWaitMs([1, 86400]), 86400 * 1000 * 1.2);
});

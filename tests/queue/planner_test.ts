import { assertEquals } from "../support/assert.ts";
import { planEpisode, waitsUntil } from "../../src/queue/planner.ts";
import type { EpisodeState } from "../../src/queue/state.ts";
import { longestWaitMs } from "../../src/queue/backoff.ts";
import { COMMIT } from "../../devkit/fixtures.ts";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const MAX = longestWaitMs([1, 2, 4, 300]);

function state(fields: Partial<EpisodeState> = {}): EpisodeState {
  return {
    episode_id: "ep-1",
    compression: "gzip",
    size: 10,
    sha256: "x",
    commit: COMMIT,
    packed_at: new Date(NOW).toISOString(),
    attempts: 0,
    next_attempt_at: null,
    last_error: null,
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

Deno.test("planEpisode() follows verdict, backoff, tarball and nothing, in that order", () => {
  const base = { packed: false, local: undefined, now: NOW, maxWaitMs: MAX };
  assertEquals(planEpisode({ ...base, state: null }), { kind: "prepare" });
  assertEquals(planEpisode({ ...base, state: state() }), { kind: "prepare" });
  assertEquals(planEpisode({ ...base, state: state(), packed: true }), { kind: "upload" });
  assertEquals(planEpisode({ ...base, state: state({ verdict }), packed: true }), {
    kind: "finish",
    verdict,
  });
  const later = new Date(NOW + 60_000).toISOString();
  assertEquals(
    planEpisode({
      ...base,
      packed: true,
      state: state({ attempts: 3, next_attempt_at: later, last_error: "HTTP 503" }),
    }),
    { kind: "wait", until: NOW + 60_000, why: "backing off after 3 failed attempt(s): HTTP 503" },
  );
  // A verdict is finished even while the episode's upload backoff runs…
  assertEquals(
    planEpisode({ ...base, state: state({ verdict, next_attempt_at: later }) }).kind,
    "finish",
  );
  // …but a local failure (the move itself failing) backs off on the schedule.
  assertEquals(
    planEpisode({
      ...base,
      state: state({ verdict }),
      local: { attempts: 2, nextAt: NOW + 2000, error: "EACCES" },
    }),
    { kind: "wait", until: NOW + 2000, why: "backing off after 2 local failure(s): EACCES" },
  );
});

Deno.test("planEpisode() treats a next attempt further away than any backoff as due (clock jumped back)", () => {
  const years = new Date(NOW + 3 * 365 * 86400_000).toISOString();
  const step = planEpisode({
    state: state({ attempts: 4, next_attempt_at: years, last_error: "HTTP 503" }),
    packed: true,
    local: undefined,
    now: NOW,
    maxWaitMs: MAX,
  });
  assertEquals(step, { kind: "upload" });
  assertEquals(waitsUntil(Date.parse(years), NOW, MAX), { waits: false, clockJump: true });
  assertEquals(waitsUntil(NOW + MAX, NOW, MAX), { waits: true, clockJump: false });
  assertEquals(waitsUntil(NOW, NOW, MAX), { waits: false, clockJump: false });
  assertEquals(waitsUntil(Number.NaN, NOW, MAX), { waits: false, clockJump: false });
});

Deno.test("longestWaitMs() covers the schedule with jitter and the Retry-After cap", () => {
  assertEquals(longestWaitMs([1, 2]), 3600_000);
  assertEquals(longestWaitMs([1, 86400]), 86400 * 1000 * 1.2);
});

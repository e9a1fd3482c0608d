import { assertEquals, assertMatch } from "../support/assert.ts";
import { preflight, readCommit } from "../../src/episodes/preflight.ts";
import type { MetaReading } from "../../src/episodes/meta.ts";

const C = "0123456789abcdef0123456789abcdef01234567";
const ok = {
  metaText: JSON.stringify({ code_version: { commit: C } }),
  totalBytes: 10,
  maxEpisodeBytes: 100,
};

Deno.test("readCommit() finds code_version.commit and explains every way it can be missing", () => {
  assertEquals(readCommit(JSON.stringify({ code_version: { commit: C, dirty: true } })), {
    commit: C,
  });
  assertEquals(readCommit(null), { problem: "meta.json is missing" });
  assertEquals(readCommit("{not json"), { problem: "meta.json is not valid JSON" });
  assertEquals(readCommit("[]"), { problem: "meta.json has no code_version.commit" });
  assertEquals(readCommit("{}"), { problem: "meta.json has no code_version.commit" });
  assertEquals(readCommit('{"code_version": "abc"}'), {
    problem: "meta.json has no code_version.commit",
  });
  assertEquals(readCommit('{"code_version": {"commit": 5}}'), {
    problem: "meta.json code_version.commit 5 is not 40 hex digits",
  });
  assertEquals(readCommit(`{"code_version": {"commit": "${C.slice(1)}"}}`), {
    problem: `meta.json code_version.commit "${C.slice(1)}" is not 40 hex digits`,
  });
  assertEquals(readCommit(`{"code_version": {"commit": "${C.slice(1)}g"}}`), {
    problem: `meta.json code_version.commit "${C.slice(1)}g" is not 40 hex digits`,
  });
});

Deno.test("preflight() sends a stamped episode with a valid id within the size limit", () => {
  assertEquals(preflight({ name: "ep-2026.11_27", ...ok }), { send: true, commit: C });
  assertEquals(preflight({ name: "a".repeat(200), ...ok }).send, true);
});

Deno.test("preflight() refuses bad ids, unstamped meta and oversized episodes", () => {
  for (const name of ["", ".hidden", "-x", "a b", "a/b", "ü", "a".repeat(201), "x\n"]) {
    const v = preflight({ name, ...ok });
    assertEquals(v.send, false, JSON.stringify(name));
    if (!v.send) assertMatch(v.reason, /^episode id .* is not valid/);
  }
  const unstamped = preflight({ name: "ep", ...ok, metaText: "{}" });
  assertEquals(unstamped.send, false);
  if (!unstamped.send) {
    assertEquals(unstamped.commit, null);
    assertMatch(unstamped.reason, /^meta\.json has no code_version\.commit: /);
  }
  const big = preflight({ name: "ep", ...ok, totalBytes: 101 });
  assertEquals(big, {
    send: false,
    commit: C,
    reason: "episode holds 101 bytes, more than shipper.max_episode_bytes (100)",
  });
});

Deno.test("preflight() quarantines with the reading's own reason: too large is not missing", () => {
  const base = { name: "ep", totalBytes: 10, maxEpisodeBytes: 100 };
  const cases: [MetaReading, string][] = [
    [
      { kind: "too large", problem: "meta.json is 2000000 bytes, more than the 1 MiB limit" },
      "meta.json is 2000000 bytes, more than the 1 MiB limit",
    ],
    [
      { kind: "not a regular file", problem: "meta.json is a symlink, not a regular file" },
      "meta.json is a symlink, not a regular file",
    ],
    [
      { kind: "unreadable", problem: "meta.json cannot be read: permission denied" },
      "meta.json cannot be read: permission denied",
    ],
    [
      { kind: "missing", problem: "meta.json is missing" },
      "meta.json is missing: the episode was produced by code that does not stamp its commit",
    ],
    [
      { text: "{}" },
      "meta.json has no code_version.commit: the episode was produced by code that does not stamp its commit",
    ],
  ];
  for (const [meta, reason] of cases) {
    assertEquals(preflight({ ...base, meta }), { send: false, commit: null, reason });
  }
  assertEquals(preflight({ ...base, meta: { text: ok.metaText } }), { send: true, commit: C });
  // meta wins over metaText
  assertEquals(
    preflight({
      ...base,
      metaText: ok.metaText,
      meta: { kind: "missing", problem: "meta.json is missing" },
    }).send,
    false,
  );
});

Deno.test("preflight() quarantines an episode whose tree the walk could not list, with its reason", () => {
  const treeProblem = 'entry "data/caf\\xe9.bin" has a name that is not valid UTF-8';
  assertEquals(preflight({ name: "ep", ...ok, treeProblem }), {
    send: false,
    commit: C,
    reason: treeProblem,
  });
  assertEquals(preflight({ name: "ep", ...ok, treeProblem: null }), { send: true, commit: C });
  // A bad id is reported first: it is what the operator sees in quarantine/.
  const both = preflight({ name: "a b", ...ok, treeProblem });
  if (!both.send) assertMatch(both.reason, /^episode id "a b" is not valid/);
  else throw new Error("sent");
});

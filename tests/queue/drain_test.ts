import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { COMMIT, makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { drainDecision, drainUnstamped, formatDrain } from "../../src/queue/drain.ts";
import { REASON_FILE } from "../../src/queue/reason.ts";
import { layoutOf } from "../../src/layout.ts";
import { META_FILE } from "../../src/episodes/preflight.ts";
import { DONE_MARKER } from "../../src/episodes/scan.ts";
import { SimFs } from "../../sim/sim_fs.ts";
import { guardDenoFs } from "../support/deno_fs_guard.ts";
import { countingSimLock } from "../support/counting_lock.ts";

Deno.test("drainDecision() quarantines every unstamped complete episode and keeps stamped ones", () => {
  const stamped = JSON.stringify({ code_version: { commit: COMMIT } });
  const cases: [string | null, boolean, "keep" | "quarantine", RegExp][] = [
    [stamped, true, "keep", /^stamped$/],
    [stamped, false, "keep", /^stamped$/],
    [null, true, "quarantine", /^meta\.json is missing: .*drained by quarantine-unstamped/],
    ["{not json", true, "quarantine", /^meta\.json is not valid JSON/],
    [JSON.stringify({ seed: 1 }), true, "quarantine", /^meta\.json has no code_version\.commit/],
    [JSON.stringify({ code_version: "abc" }), true, "quarantine", /no code_version\.commit/],
    [JSON.stringify({ code_version: { commit: "abc" } }), true, "quarantine", /not 40 hex/],
    [JSON.stringify([1]), true, "quarantine", /no code_version\.commit/],
    // Still being written: only a meta.json that parses proves the code never stamps.
    [JSON.stringify({ code_version: { commit: 7 } }), false, "quarantine", /not 40 hex/],
    [null, false, "keep", /^still being written and meta\.json is missing$/],
    ["{half", false, "keep", /^still being written and meta\.json is not valid JSON$/],
  ];
  for (const [metaText, complete, action, pattern] of cases) {
    const d = drainDecision({ metaText, complete });
    assertEquals(d.action, action, `${metaText} complete=${complete}`);
    assertMatch("why" in d ? d.why : d.reason, pattern);
  }
});

async function lab() {
  const tmp = await tempDir();
  const root = join(tmp.path, "data");
  await makeEpisode(root, "ep-stamped");
  await makeEpisode(root, "ep-running", { complete: false, meta: null });
  await makeEpisode(root, "ep-no-meta", { meta: null });
  await makeEpisode(root, "ep-bad-json", { meta: "{oops" });
  await makeEpisode(root, "ep-no-key", { meta: { code_version: { dirty: true } } });
  await makeEpisode(root, "ep-old-running", { complete: false, meta: { seed: 3 } });
  return { tmp, root };
}

Deno.test("drainUnstamped() quarantines the unstamped with source drain and keeps the rest", async () => {
  const { tmp, root } = await lab();
  await using _ = tmp;
  const report = await drainUnstamped(root, { hostId: "lab-01", now: () => Date.UTC(2026, 0, 2) });
  assertEquals(report.quarantined.map((q) => q.episode), [
    "ep-bad-json",
    "ep-no-key",
    "ep-no-meta",
    "ep-old-running",
  ]);
  assertEquals(report.kept.map((k) => k.episode), ["ep-running", "ep-stamped"]);
  assertEquals(await names(join(root, "episodes")), ["ep-running", "ep-stamped"]);
  assertEquals(await names(join(root, "quarantine")), [
    "ep-bad-json",
    "ep-no-key",
    "ep-no-meta",
    "ep-old-running",
  ]);
  const reason = JSON.parse(
    await Deno.readTextFile(join(root, "quarantine", "ep-no-meta", REASON_FILE)),
  );
  assertEquals(reason.source, "drain");
  assertEquals(reason.episode_id, "ep-no-meta");
  assertEquals(reason.host_id, "lab-01");
  assertEquals(reason.quarantined_at, "2026-01-02T00:00:00.000Z");
  assertEquals(reason.code_version_commit, null);
  assertMatch(reason.reason, /^meta\.json is missing/);
  assertEquals(report.quarantined[0]?.to, join(root, "quarantine", "ep-bad-json"));
  assertEquals(await names(join(root, "outbox")), [], "no temporary file left");
});

Deno.test("drainUnstamped() with dryRun changes nothing and reports the same plan", async () => {
  const { tmp, root } = await lab();
  await using _ = tmp;
  const before = await names(join(root, "episodes"));
  const dry = await drainUnstamped(root, { hostId: "lab-01", dryRun: true });
  assertEquals(await names(join(root, "episodes")), before);
  assertEquals(await names(root), ["episodes"], "not even quarantine/ is created");
  assertMatch(formatDrain(dry).at(-1) ?? "", /^would quarantine 4, kept 2 \(dry run/);
  const real = await drainUnstamped(root, { hostId: "lab-01" });
  assertEquals(
    real.quarantined.map((q) => [q.episode, q.why]),
    dry.quarantined.map((q) => [q.episode, q.why]),
  );
});

Deno.test("drainUnstamped() is idempotent", async () => {
  const { tmp, root } = await lab();
  await using _ = tmp;
  await drainUnstamped(root, { hostId: "lab-01" });
  const quarantined = await names(join(root, "quarantine"));
  const again = await drainUnstamped(root, { hostId: "lab-01" });
  assertEquals(again.quarantined, []);
  assertEquals(await names(join(root, "quarantine")), quarantined);
});

Deno.test("drainUnstamped() never overwrites a name taken in quarantine/", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "data");
  await makeEpisode(root, "ep-1", { meta: null, files: { "new.txt": "new" } });
  await Deno.mkdir(join(root, "quarantine", "ep-1"), { recursive: true });
  await Deno.writeTextFile(join(root, "quarantine", "ep-1", "old.txt"), "old");
  const report = await drainUnstamped(root, { hostId: "lab-01" });
  assertEquals(report.quarantined[0]?.to, join(root, "quarantine", "ep-1.2"));
  assertEquals(await Deno.readTextFile(join(root, "quarantine", "ep-1", "old.txt")), "old");
  assertEquals(await Deno.readTextFile(join(root, "quarantine", "ep-1.2", "new.txt")), "new");
  assert((await names(join(root, "episodes"))).length === 0);
});

Deno.test("drainUnstamped() runs on an injected file system, moves section and owner check alone", async () => {
  // SimFs's "/data" does not exist on this disk, and the guard records any Deno file call even
  // where the code swallows its error: the run must go through the injected fs alone.
  const fs = new SimFs(() => Date.UTC(2026, 0, 2));
  const layout = layoutOf("/data");
  const episode = (id: string, meta: string | null, complete = true) => {
    fs.produceFile(join(layout.episodes, id, "a.txt"), id);
    if (meta !== null) fs.produceFile(join(layout.episodes, id, META_FILE), meta);
    if (complete) fs.produceFile(join(layout.episodes, id, DONE_MARKER), "");
  };
  episode("ep-stamped", JSON.stringify({ code_version: { commit: COMMIT } }));
  episode("ep-no-key", JSON.stringify({ seed: 1 }));
  episode("ep-running", null, false);
  fs.produceFile(join(layout.quarantine, "ep-no-key", "old.txt"), "old"); // taken: never clobbered
  fs.produceFile(layout.statePath("ep-no-key"), "{}"); // a stale state: removed
  const [lock, sections] = countingSimLock();
  const owners: string[] = [];
  const requireOwner = (dataRoot: string) => Promise.resolve(void owners.push(dataRoot));
  let report;
  {
    using guard = guardDenoFs();
    report = await drainUnstamped(layout, {
      hostId: "lab-01",
      fs,
      lock,
      requireOwner,
      now: () => Date.UTC(2026, 0, 2),
    });
    assertEquals(guard.calls, []);
  }
  assertEquals(report.quarantined.map((q) => [q.episode, q.to]), [
    ["ep-no-key", join(layout.quarantine, "ep-no-key.2")],
  ]);
  assertEquals(report.kept.map((k) => [k.episode, k.why]), [
    ["ep-running", "still being written and meta.json is missing"],
    ["ep-stamped", "stamped"],
  ]);
  assertEquals([sections(), owners], [1, ["/data"]]);
  // Durable: what it did survives a power loss right after it returned.
  fs.powerLoss();
  assertEquals(fs.list(layout.episodes), ["ep-running", "ep-stamped"]);
  assertEquals(fs.list(layout.quarantine), ["ep-no-key", "ep-no-key.2"]);
  assertEquals(fs.list(join(layout.quarantine, "ep-no-key")), ["old.txt"]);
  const reason = JSON.parse(
    new TextDecoder().decode(fs.bytes(join(layout.quarantine, "ep-no-key.2", REASON_FILE))!),
  );
  assertEquals([reason.source, reason.episode_id, reason.host_id], [
    "drain",
    "ep-no-key",
    "lab-01",
  ]);
  assertEquals(fs.list(layout.outbox), [], "stale state removed, no temporary file left");
});

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { COMMIT, makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { drainDecision, drainUnstamped, formatDrain } from "../../src/queue/drain.ts";
import { REASON_FILE } from "../../src/queue/reason.ts";

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

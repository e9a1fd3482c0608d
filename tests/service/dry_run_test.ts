import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { COMMIT, makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import { formatDryRun, planDryRun } from "../../src/service/dry_run.ts";
import type { Config } from "../../src/config/config.ts";
import { REASON_FILE } from "../../src/layout.ts";

const NOW = Date.UTC(2026, 0, 10, 12);

function configFor(dataRoot: string): Config {
  return {
    dataRoot,
    maxEpisodeBytes: 1_000_000,
    backoffSeconds: [30, 60, 300],
  } as unknown as Config; // planDryRun reads only these
}

async function state(root: string, id: string, fields: Record<string, unknown>) {
  await Deno.mkdir(join(root, "outbox"), { recursive: true });
  await Deno.writeTextFile(
    join(root, "outbox", `${id}.state.json`),
    JSON.stringify({
      episode_id: id,
      compression: "none",
      size: 3,
      sha256: "AAAA",
      commit: COMMIT,
      packed_at: new Date(0).toISOString(),
      attempts: 0,
      next_attempt_at: null,
      last_error: null,
      ...fields,
    }),
  );
}

Deno.test("planDryRun() tells each step a pass would take, from the disk alone, changing nothing", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await makeEpisode(root, "ep-new");
  await makeEpisode(root, "ep-packed");
  await state(root, "ep-packed", {});
  await Deno.writeTextFile(join(root, "outbox", "ep-packed.tar"), "abc");
  await makeEpisode(root, "ep-wait");
  await state(root, "ep-wait", {
    attempts: 2,
    next_attempt_at: new Date(NOW + 60_000).toISOString(),
    last_error: "HTTP 503",
  });
  await makeEpisode(root, "ep-answered");
  await state(root, "ep-answered", {
    verdict: {
      kind: "ship",
      duplicate: false,
      status: 201,
      reason: null,
      body: null,
      at: new Date(NOW).toISOString(),
    },
  });
  await makeEpisode(root, "ep-big", { files: { "x.bin": new Uint8Array(2_000_000) } });
  // Put back by hand with its reason file: decided afresh (the reason is set aside), not quarantined.
  await makeEpisode(root, "ep-put-back");
  await Deno.writeTextFile(join(root, "episodes", "ep-put-back", REASON_FILE), "{}");
  const before = await names(root);
  const report = await planDryRun(configFor(root), { now: () => NOW });
  assertEquals(await names(root), before);
  const byName = Object.fromEntries(report.steps.map((s) => [s.episode, s.action]));
  assertEquals(byName, {
    "ep-new": "pack-and-send",
    "ep-packed": "send",
    "ep-wait": "wait",
    "ep-answered": "finish",
    "ep-big": "quarantine",
    "ep-put-back": "pack-and-send",
  });
  const text = formatDryRun(report).join("\n");
  assertMatch(text, /^waiting ep-wait until 2026-01-10T12:01:00\.000Z: HTTP 503$/m);
  assertMatch(text, /^would send ep-packed \(packed, 3 B\)$/m);
  assertMatch(text, /^would quarantine ep-big: episode holds \d+ bytes, more than/m);
  assertMatch(text, /^would send 3 \(\d+ B\), quarantine 1, wait 1 \(dry run/m);
});

Deno.test("planDryRun() on a data root without episodes/ plans nothing", async () => {
  await using tmp = await tempDir();
  const report = await planDryRun(configFor(tmp.path));
  assertEquals(report, { steps: [], incomplete: [], unaddressable: [] });
  assertEquals(await names(tmp.path), []);
});

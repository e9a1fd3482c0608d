/**
 * Episode directories whose names are not valid UTF-8, made from raw bytes: Deno sees only lossy
 * names, so they are moved by inode through find(1); the CLI run proves the binary's flags allow it.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { makeEpisode, names } from "../../devkit/fixtures.ts";
import { makeQueueLab } from "../support/queue_lab.ts";
import { runPass } from "../../src/queue/pass.ts";
import { isUtf8, parseFindOutput, quarantineNameFor } from "../../src/queue/non_utf8.ts";
import { makeLab } from "../support/lab.ts";
import { EXIT } from "../../src/cli/args.ts";

/** Renames `<dir>/<from>` to a name with raw bytes `\\xff\\xfe` in it. */
async function rawRename(dir: string, from: string, prefix: string): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `mv -- "$1/$2" "$1/$3"$'\\xff\\xfe'`, "_", dir, from, prefix],
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("parseFindOutput() and quarantineNameFor() keep raw bytes; isUtf8() tells them apart", () => {
  const out = new Uint8Array([
    ...new TextEncoder().encode("12 ep-"),
    0xff,
    0xfe,
    0,
    ...new TextEncoder().encode("7 ok"),
    0,
  ]);
  const entries = parseFindOutput(out);
  assertEquals(entries.map((e) => e.ino), ["12", "7"]);
  assertEquals(isUtf8(entries[0]!.name), false);
  assertEquals(isUtf8(entries[1]!.name), true);
  assertEquals(quarantineNameFor(entries[0]!.name), "nonutf8-65702dfffe");
  assertEquals(quarantineNameFor(new Uint8Array(300).fill(0xff)).length, 200);
});

Deno.test("runPass() quarantines a complete episode directory whose name is not UTF-8, leaves an incomplete one, sends nothing of them", async () => {
  await using lab = await makeQueueLab();
  const episodes = join(lab.dataRoot, "episodes");
  await makeEpisode(lab.dataRoot, "done");
  await rawRename(episodes, "done", "ep-");
  await makeEpisode(lab.dataRoot, "running", { complete: false });
  await rawRename(episodes, "running", "wip-");
  await makeEpisode(lab.dataRoot, "ep-good");
  const summary = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world(),
  });
  assertEquals(lab.requests.map((r) => r.id), ["ep-good"]);
  assertEquals(await names(lab.layout.quarantine), ["nonutf8-65702dfffe"]);
  const reason = JSON.parse(
    await Deno.readTextFile(
      join(lab.layout.quarantine, "nonutf8-65702dfffe", "quarantine_reason.json"),
    ),
  );
  assertMatch(reason.reason, /not valid UTF-8 \(bytes 65702dfffe\)/);
  assertEquals(reason.source, "preflight");
  assertEquals(summary.quarantined.map((q) => q.id), ["nonutf8-65702dfffe"]);
  assertEquals(
    (await names(episodes)).length,
    1,
    "the incomplete one stays where its producer writes",
  );
  // Once complete, it goes too.
  const touched = await new Deno.Command("bash", {
    args: ["-c", 'for d in "$1"/wip-*; do touch "$d/done.marker"; done', "_", episodes],
    env: { LC_ALL: "C" }, // in a UTF-8 locale, bash's * does not match invalid bytes
  }).output();
  assert(touched.success, new TextDecoder().decode(touched.stderr));
  const again = await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world(),
  });
  assertEquals(again.quarantined.map((q) => q.id), ["nonutf8-7769702dfffe"]);
  assertEquals(await names(episodes), []);
  assertEquals(lab.requests.length, 1);
});

Deno.test("--once under the binary's flags quarantines a non-UTF-8 episode directory and exits 0", async () => {
  await using lab = await makeLab({ url: "https://127.0.0.1:9" });
  const episodes = join(lab.dataRoot, "episodes");
  await makeEpisode(lab.dataRoot, "x");
  await rawRename(episodes, "x", "ep-");
  const run = await lab.once();
  assertEquals(run.code, EXIT.ok, run.stderr);
  assertMatch(run.stdout, /^quarantined: 1 \(nonutf8-65702dfffe \[preflight\]\)$/m, run.stderr);
  assertEquals(await names(episodes), []);
});

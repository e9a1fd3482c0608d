import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { names, tempDir } from "../../devkit/fixtures.ts";
import { confirmShipped, formatConfirm } from "../../src/retention/confirm.ts";
import { readUnconfirmed } from "../../src/retention/unconfirmed.ts";
import { layoutOf } from "../../src/layout.ts";
import { SimFs } from "../../sim/sim_fs.ts";
import { guardDenoFs } from "../support/deno_fs_guard.ts";

async function marked(root: string, ...ids: string[]) {
  const layout = layoutOf(root);
  await Deno.mkdir(layout.unconfirmed, { recursive: true });
  for (const id of ids) {
    await Deno.mkdir(join(layout.shipped, id), { recursive: true });
    await Deno.writeTextFile(join(layout.unconfirmed, id), "");
  }
  return layout;
}

Deno.test("confirmShipped() removes the marks named, reports names without one, and moves nothing", async () => {
  await using tmp = await tempDir();
  const layout = await marked(tmp.path, "ep-1", "ep-2");
  const report = await confirmShipped(tmp.path, { names: ["ep-1", "ep-9"] });
  assertEquals(report.confirmed, [{ episode: "ep-1", shipped: true }]);
  assertEquals(report.unknown, ["ep-9"]);
  assertEquals(await readUnconfirmed(layout), ["ep-2"]);
  assertEquals(await names(layout.shipped), ["ep-1", "ep-2"]);
  assertMatch(formatConfirm(report).join("\n"), /^not marked unconfirmed: ep-9$/m);
});

Deno.test("confirmShipped() --all, and --dry-run changing nothing", async () => {
  await using tmp = await tempDir();
  const layout = await marked(tmp.path, "ep-1", "ep-2");
  await Deno.remove(join(layout.shipped, "ep-2"), { recursive: true });
  const dry = await confirmShipped(tmp.path, { all: true }, { dryRun: true });
  assertEquals(dry.confirmed.map((c) => [c.episode, c.shipped]), [["ep-1", true], ["ep-2", false]]);
  assertEquals(await readUnconfirmed(layout), ["ep-1", "ep-2"]);
  assertMatch(formatConfirm(dry).at(-1) ?? "", /^would confirm 2, unknown 0 \(dry run/);
  await confirmShipped(tmp.path, { all: true });
  assertEquals(await readUnconfirmed(layout), []);
});

Deno.test("confirmShipped() runs on an injected file system alone", async () => {
  // SimFs's "/data" does not exist on this disk, and the guard records any Deno file call even
  // where the code swallows its error: the run must go through the injected fs alone.
  const fs = new SimFs(() => 0);
  const layout = layoutOf("/data");
  for (const id of ["ep-1", "ep-2", "ep-gone"]) fs.produceFile(join(layout.unconfirmed, id), "");
  for (const id of ["ep-1", "ep-2"]) fs.produceDir(join(layout.shipped, id));
  let report;
  {
    using guard = guardDenoFs();
    report = await confirmShipped(layout, { names: ["ep-1", "ep-gone", "ep-9"] }, { fs });
    assertEquals(await readUnconfirmed(layout, { fs }), ["ep-2"]);
    assertEquals(guard.calls, []);
  }
  assertEquals(report.confirmed, [
    { episode: "ep-1", shipped: true },
    { episode: "ep-gone", shipped: false },
  ]);
  assertEquals(report.unknown, ["ep-9"]);
  // The removal of the marks is durable.
  fs.powerLoss();
  assertEquals(fs.list(layout.unconfirmed), ["ep-2"]);
  assertEquals(fs.list(layout.shipped), ["ep-1", "ep-2"]);
});

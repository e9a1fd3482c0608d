import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { names, tempDir } from "../../devkit/fixtures.ts";
import { choosePrune, formatPrune, pruneShipped, readShipped } from "../../src/retention/prune.ts";
import { layoutOf, OWN } from "../../src/layout.ts";
import { SimFs } from "../../sim/sim_fs.ts";
import { simEpisodes } from "../../sim/sim_world.ts";
import { guardDenoFs } from "../support/deno_fs_guard.ts";
import { countingSimLock } from "../support/counting_lock.ts";

const TRASH_DIR = OWN.trash;

const DAY = 86_400_000;

Deno.test("choosePrune() picks entries shipped at least keep_local_for_days ago, oldest first", () => {
  const now = 100 * DAY;
  const entries = [
    { name: "new", shippedAt: now - DAY },
    { name: "edge", shippedAt: now - 7 * DAY },
    { name: "old", shippedAt: now - 30 * DAY },
    { name: "future", shippedAt: now + DAY },
  ];
  assertEquals(choosePrune(entries, now, 7).map((e) => e.name), ["old", "edge"]);
  assertEquals(choosePrune(entries, now, 0).map((e) => e.name), ["old", "edge", "new"]);
  assertEquals(choosePrune(entries, now, 365), []);
});

async function shipped(root: string, id: string) {
  await Deno.mkdir(join(root, "shipped", id, "data"), { recursive: true });
  await Deno.writeTextFile(join(root, "shipped", id, "data", "x"), id);
}

Deno.test("pruneShipped() measures age by the rename into shipped/ (ctime), not file times", async () => {
  await using tmp = await tempDir();
  await shipped(tmp.path, "ep-1");
  // Old files, shipped just now: mtime says old, ctime says new.
  await Deno.utime(join(tmp.path, "shipped", "ep-1"), 0, 0);
  const [entry] = await readShipped(layoutOf(tmp.path));
  const now = Date.now();
  assertEquals(Math.abs((entry?.shippedAt ?? 0) - now) < DAY, true, "ctime is recent");
  const report = await pruneShipped(tmp.path, { keepLocalForDays: 1, now: () => now });
  assertEquals(report.pruned, []);
  assertEquals(await names(join(tmp.path, "shipped")), ["ep-1"]);
});

Deno.test("pruneShipped() removes old entries through the trash; dryRun removes nothing", async () => {
  await using tmp = await tempDir();
  await shipped(tmp.path, "ep-1");
  await shipped(tmp.path, "ep-2");
  const later = () => Date.now() + 8 * DAY;
  const dry = await pruneShipped(tmp.path, { keepLocalForDays: 7, dryRun: true, now: later });
  assertEquals(dry.pruned.map((p) => p.episode).sort(), ["ep-1", "ep-2"]);
  assertEquals(await names(join(tmp.path, "shipped")), ["ep-1", "ep-2"]);
  assertMatch(formatPrune(dry).at(-1) ?? "", /^would prune 2 \(\d+ B\), kept 0 .*dry run/);
  assertEquals(dry.pruned.map((p) => p.bytes), [4, 4]);
  const real = await pruneShipped(tmp.path, { keepLocalForDays: 7, now: later });
  assertEquals(real.pruned.length, 2);
  assertEquals(await names(join(tmp.path, "shipped")), []);
  assertEquals(await names(join(tmp.path, TRASH_DIR)), []);
});

Deno.test("pruneShipped() empties a trash a crash left behind", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(join(tmp.path, "shipped"));
  await Deno.mkdir(join(tmp.path, TRASH_DIR, "ep-9.abcd1234", "half"), { recursive: true });
  await pruneShipped(tmp.path, { keepLocalForDays: 7 });
  assertEquals(await names(join(tmp.path, TRASH_DIR)), []);
});

Deno.test("pruneShipped() keeps an entry marked unconfirmed, and lets it go once the mark is removed", async () => {
  await using tmp = await tempDir();
  await shipped(tmp.path, "ep-1");
  await shipped(tmp.path, "ep-2");
  const layout = layoutOf(tmp.path);
  await Deno.mkdir(layout.unconfirmed);
  await Deno.writeTextFile(join(layout.unconfirmed, "ep-1"), "");
  const later = () => Date.now() + 8 * DAY;
  const dry = await pruneShipped(tmp.path, { keepLocalForDays: 7, dryRun: true, now: later });
  assertEquals(dry.unconfirmed.map((u) => u.episode), ["ep-1"]);
  const report = await pruneShipped(tmp.path, { keepLocalForDays: 7, now: later });
  assertEquals(report.pruned.map((p) => p.episode), ["ep-2"]);
  assertEquals(report.unconfirmed.map((u) => u.episode), ["ep-1"]);
  assertEquals(report.kept, 1);
  assertMatch(formatPrune(report).join("\n"), /^kept shipped\/ep-1: unconfirmed/m);
  assertEquals(await names(layout.shipped), ["ep-1"]);
  await Deno.remove(join(layout.unconfirmed, "ep-1"));
  await pruneShipped(tmp.path, { keepLocalForDays: 7, now: later });
  assertEquals(await names(layout.shipped), []);
});

Deno.test("pruneShipped() stops between two entries once its signal is aborted", async () => {
  await using tmp = await tempDir();
  for (const id of ["ep-1", "ep-2"]) await shipped(tmp.path, id);
  const stop = new AbortController();
  stop.abort();
  const report = await pruneShipped(tmp.path, {
    keepLocalForDays: 0,
    now: () => Date.now() + DAY,
    signal: stop.signal,
  });
  assertEquals(report.interrupted, true);
  assertEquals(report.pruned, []);
  assertEquals(report.kept, 2);
  assertEquals(await names(join(tmp.path, "shipped")), ["ep-1", "ep-2"]);
});

Deno.test("pruneShipped() runs on an injected file system, moves section and walk alone", async () => {
  // SimFs's "/data" does not exist on this disk, and the guard records any Deno file call even
  // where the code swallows its error: the run must go through the injected fs alone.
  let clock = 0;
  const fs = new SimFs(() => clock);
  const layout = layoutOf("/data");
  fs.produceFile(join(layout.shipped, "ep-old", "data", "x"), "12345");
  fs.produceFile(join(layout.shipped, "ep-marked", "x"), "1");
  fs.produceFile(join(layout.unconfirmed, "ep-marked"), "");
  fs.produceFile(join(layout.trash, "ep-9.abcd1234", "half"), "left by a crash");
  clock = 10 * DAY;
  fs.produceFile(join(layout.shipped, "ep-new", "x"), "1");
  const [lock, sections] = countingSimLock();
  const episodes = simEpisodes(fs);
  const walk = async (dir: string) => (await episodes.inspect(dir)).tree;
  let report;
  {
    using guard = guardDenoFs();
    report = await pruneShipped(layout, { keepLocalForDays: 7, now: () => clock, fs, lock, walk });
    assertEquals(guard.calls, []);
  }
  assertEquals(report.pruned, [
    { episode: "ep-old", shipped_at: new Date(0).toISOString(), bytes: 5 },
  ]);
  assertEquals(report.unconfirmed.map((u) => u.episode), ["ep-marked"]);
  assertEquals([report.kept, sections()], [2, 2]);
  assertEquals(fs.list(layout.trash), []);
  // The move out of shipped/ is durable: a power loss does not bring the entry back.
  fs.powerLoss();
  assertEquals(fs.list(layout.shipped), ["ep-marked", "ep-new"]);
});

import { assertEquals, assertMatch } from "../support/assert.ts";
import { join } from "node:path";
import { makeEpisode, names, tempDir } from "../../devkit/fixtures.ts";
import {
  archiveReason,
  formatRequeue,
  HISTORY_DIR,
  planRequeue,
  requeue,
  requeueIdOf,
} from "../../src/queue/requeue.ts";
import { layoutOf } from "../../src/layout.ts";
import { drainUnstamped } from "../../src/queue/drain.ts";
import { REASON_FILE } from "../../src/queue/reason.ts";
import { SimFs } from "../../sim/sim_fs.ts";
import { guardDenoFs } from "../support/deno_fs_guard.ts";
import { countingSimLock } from "../support/counting_lock.ts";

Deno.test("planRequeue() goes back under the recorded id and refuses clashes and bad ids", () => {
  const entries = [
    { dir: "ep-1", recordedId: "ep-1" },
    { dir: "ep-1.2", recordedId: "ep-1" },
    { dir: "ep-2.2", recordedId: "ep-2" },
    { dir: "ep-3", recordedId: null },
    { dir: "bad name", recordedId: "bad name" },
    { dir: "ep-4", recordedId: "ep-4" },
  ];
  const { steps, unknown } = planRequeue(entries, { all: true }, new Set(["ep-4"]));
  assertEquals(unknown, []);
  assertEquals(steps.map((s) => [s.dir, s.episode, s.action]), [
    ["bad name", "bad name", "refuse"],
    ["ep-1", "ep-1", "requeue"],
    ["ep-1.2", "ep-1", "refuse"],
    ["ep-2.2", "ep-2", "requeue"],
    ["ep-3", "ep-3", "requeue"],
    ["ep-4", "ep-4", "refuse"],
  ]);
  const why = (dir: string) => {
    const s = steps.find((x) => x.dir === dir);
    return s?.action === "refuse" ? s.why : "";
  };
  assertMatch(why("ep-1.2"), /another quarantined directory goes back as "ep-1"/);
  assertMatch(why("ep-4"), /episodes\/ep-4 already exists; it is never overwritten/);
  assertMatch(why("bad name"), /not a valid episode id/);
});

Deno.test("planRequeue() selects by id or directory name and reports unknown ids", () => {
  const entries = [{ dir: "ep-2.2", recordedId: "ep-2" }, { dir: "ep-5", recordedId: "ep-5" }];
  const byId = planRequeue(entries, { ids: ["ep-2", "nope"] }, new Set());
  assertEquals(byId.steps.map((s) => s.dir), ["ep-2.2"]);
  assertEquals(byId.unknown, ["nope"]);
  assertEquals(planRequeue(entries, { ids: ["ep-2.2"] }, new Set()).steps.map((s) => s.episode), [
    "ep-2",
  ]);
});

async function quarantined() {
  const tmp = await tempDir();
  const root = join(tmp.path, "data");
  await makeEpisode(root, "ep-1", { meta: null, files: { "a.txt": "first" } });
  await drainUnstamped(root, { hostId: "lab-01" });
  await makeEpisode(root, "ep-1", { meta: null, files: { "a.txt": "second" } });
  await drainUnstamped(root, { hostId: "lab-01" });
  return { tmp, root };
}

Deno.test("requeue() moves the reason to history, never into the episode, and refuses a clash", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  assertEquals(await names(join(root, "quarantine")), ["ep-1", "ep-1.2"]);
  const report = await requeue(root, { all: true }, { now: () => Date.UTC(2026, 4, 6, 7, 8, 9) });
  assertEquals(report.requeued.map((r) => [r.dir, r.episode]), [["ep-1", "ep-1"]]);
  assertEquals(report.refused.map((r) => [r.dir, r.episode]), [["ep-1.2", "ep-1"]]);
  assertEquals(await names(join(root, "episodes", "ep-1")), ["a.txt", "done.marker"]);
  assertEquals(await Deno.readTextFile(join(root, "episodes", "ep-1", "a.txt")), "first");
  const history = join(root, "quarantine", HISTORY_DIR);
  assertEquals(await names(history), ["ep-1.2026-05-06T07-08-09.000Z.json"]);
  const record = JSON.parse(
    await Deno.readTextFile(join(history, "ep-1.2026-05-06T07-08-09.000Z.json")),
  );
  assertEquals(record.from, "ep-1");
  assertEquals(record.reason.source, "drain");
  // The clash stays in quarantine with its reason, untouched.
  assertEquals(await names(join(root, "quarantine", "ep-1.2")), [
    "a.txt",
    "done.marker",
    REASON_FILE,
  ]);
  assertMatch(formatRequeue(report).join("\n"), /refused quarantine\/ep-1\.2: another quarantined/);
  // Asked again, ep-1 is now taken in episodes/: refused, never overwritten, never renamed.
  const again = await requeue(root, { ids: ["ep-1.2"] });
  assertEquals(again.requeued, []);
  assertMatch(
    again.refused[0]?.why ?? "",
    /^episodes\/ep-1 already exists; it is never overwritten$/,
  );
  assertEquals(await Deno.readTextFile(join(root, "episodes", "ep-1", "a.txt")), "first");
  assertEquals(await names(join(root, "episodes")), ["ep-1"]);
});

Deno.test("requeue() puts <id>.2 back under the id its reason names", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  await Deno.remove(join(root, "quarantine", "ep-1"), { recursive: true });
  const report = await requeue(root, { ids: ["ep-1"] });
  assertEquals(report.requeued.map((r) => [r.dir, r.episode]), [["ep-1.2", "ep-1"]]);
  assertEquals(await Deno.readTextFile(join(root, "episodes", "ep-1", "a.txt")), "second");
  assertEquals(await names(join(root, "quarantine")), [HISTORY_DIR]);
});

Deno.test("requeue() finds the id in history when a crash left the reason already moved out", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  await Deno.remove(join(root, "quarantine", "ep-1"), { recursive: true });
  // As if a first requeue wrote history and removed the reason, then died before the rename.
  await Deno.mkdir(join(root, "quarantine", HISTORY_DIR));
  await Deno.writeTextFile(
    join(root, "quarantine", HISTORY_DIR, "ep-1.x.json"),
    JSON.stringify({ episode_id: "ep-1", from: "ep-1.2" }),
  );
  await Deno.remove(join(root, "quarantine", "ep-1.2", REASON_FILE));
  const report = await requeue(root, { all: true });
  assertEquals(report.requeued.map((r) => [r.dir, r.episode, r.history]), [[
    "ep-1.2",
    "ep-1",
    null,
  ]]);
  assertEquals(await names(join(root, "episodes")), ["ep-1"]);
});

Deno.test("requeue() with dryRun changes nothing and reports unknown ids", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  const report = await requeue(root, { ids: ["ep-1", "ep-9"] }, { dryRun: true });
  assertEquals(report.requeued.map((r) => r.dir), ["ep-1"]);
  assertEquals(report.unknown, ["ep-9"]);
  assertEquals(await names(join(root, "episodes")), []);
  assertEquals(await names(join(root, "quarantine")), ["ep-1", "ep-1.2"]);
  assertMatch(formatRequeue(report).at(-1) ?? "", /^would requeue 1, refused 1, unknown 1 \(dry/);
});

Deno.test("requeueIdOf() takes the name the operator sees, but for the shipper's own clash suffix", () => {
  const long = `nonutf8-${"61".repeat(96)}`; // trimmed to 200 characters
  const cases: [string, string | null, string][] = [
    ["ep-1", "ep-1", "ep-1"],
    ["ep-1.2", "ep-1", "ep-1"], // a clash: back under the id its reason names
    ["good", "bad name", "good"], // renamed in quarantine/: its new name
    ["ep-7", "ep-1", "ep-7"],
    ["run.2", null, "run.2"], // no reason: the name as it is
    ["bad name", "bad name", "bad name"], // refused by the planner, with the advice to rename
    ["_.hidden", ".hidden", "_.hidden"],
    [`${long}.2`, `${long}.2`, `${long.slice(0, 198)}.2`], // keeps its suffix, fits an id
    [`${long}.12`, null, `${long.slice(0, 197)}.12`],
  ];
  for (const [dir, recordedId, id] of cases) {
    assertEquals(requeueIdOf({ dir, recordedId }), id, dir);
  }
});

Deno.test("requeue() stops before its next move once its signal is aborted", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  const stop = new AbortController();
  stop.abort();
  const report = await requeue(root, { all: true }, { signal: stop.signal });
  assertEquals(report.interrupted, true);
  assertEquals(report.requeued, []);
  assertEquals(await names(join(root, "quarantine")), ["ep-1", "ep-1.2"]);
  assertMatch(
    formatRequeue(report).at(-1) ?? "",
    /\(interrupted: the rest stays in quarantine\/\)$/,
  );
});

Deno.test("archiveReason() moves a reason found in an episode to history, for the queue's hand-moved case", async () => {
  const { tmp, root } = await quarantined();
  await using _ = tmp;
  const layout = layoutOf(root);
  const dir = join(root, "quarantine", "ep-1");
  const archived = await archiveReason(layout, dir, { episode: "ep-1", from: "ep-1", now: 0 });
  assertEquals(archived?.history, join(layout.history, "ep-1.1970-01-01T00-00-00.000Z.json"));
  assertEquals(JSON.parse(archived!.text).source, "drain");
  assertEquals((await names(dir)).includes(REASON_FILE), false);
  assertEquals(await archiveReason(layout, dir, { episode: "ep-1", from: "ep-1", now: 0 }), null);
});

Deno.test("requeue() runs on an injected file system, moves section and owner check alone", async () => {
  // SimFs's "/data" does not exist on this disk, and the guard records any Deno file call even
  // where the code swallows its error: the run must go through the injected fs alone.
  const fs = new SimFs(() => Date.UTC(2026, 4, 6));
  const layout = layoutOf("/data");
  const reason = (id: string) => JSON.stringify({ episode_id: id, source: "drain" });
  for (const dir of ["ep-1", "ep-1.2", "ep-3"]) {
    fs.produceFile(join(layout.quarantine, dir, "a.txt"), dir);
    fs.produceFile(join(layout.quarantine, dir, REASON_FILE), reason(dir.replace(".2", "")));
  }
  fs.produceDir(layout.episodes);
  fs.produceFile(layout.statePath("ep-3"), "{}"); // a stale state: removed with the requeue
  const [lock, sections] = countingSimLock();
  const owners: string[] = [];
  const requireOwner = (dataRoot: string) => Promise.resolve(void owners.push(dataRoot));
  let report;
  {
    using guard = guardDenoFs();
    report = await requeue(layout, { all: true }, { fs, lock, requireOwner, now: () => 0 });
    assertEquals(guard.calls, []);
  }
  assertEquals(report.requeued.map((r) => [r.dir, r.episode]), [["ep-1", "ep-1"], [
    "ep-3",
    "ep-3",
  ]]);
  assertEquals(report.refused.map((r) => r.dir), ["ep-1.2"]);
  assertEquals([sections(), owners], [2, ["/data"]]);
  // Durable: what it did survives a power loss right after it returned.
  fs.powerLoss();
  assertEquals(fs.list(layout.episodes), ["ep-1", "ep-3"]);
  assertEquals(fs.list(join(layout.episodes, "ep-1")), ["a.txt"]);
  assertEquals(fs.list(layout.quarantine), [HISTORY_DIR, "ep-1.2"]);
  assertEquals(fs.list(layout.history), [
    "ep-1.1970-01-01T00-00-00.000Z.json",
    "ep-3.1970-01-01T00-00-00.000Z.json",
  ]);
  assertEquals(fs.kindOf(layout.statePath("ep-3")), null);
});

/**
 * The order of effects on disk, seen through a file system that records every call: what is
 * synced before what moves (invariants 2, 3, 4 and 7 of `src/queue/mod.ts`).
 */
import { basename, dirname } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { makeEpisode } from "../../devkit/fixtures.ts";
import { makeQueueLab } from "../support/queue_lab.ts";
import { scriptedReceiver } from "../support/scripted_receiver.ts";
import { runPass } from "../../src/queue/pass.ts";
import { denoFs, type Fs } from "../../src/fs/fs.ts";
import { DURABILITY } from "../../src/queue/outbox.ts";

interface Op {
  op: string;
  path: string;
  to?: string;
  sync?: boolean;
  text?: string;
}

/** denoFs with every mutating call and sync recorded. */
function recordingFs(ops: Op[]): Fs {
  return {
    ...denoFs,
    writeNew(path, data, options) {
      ops.push({ op: "writeNew", path, sync: options.sync, text: new TextDecoder().decode(data) });
      return denoFs.writeNew(path, data, options);
    },
    rename(from, to) {
      ops.push({ op: "rename", path: from, to });
      return denoFs.rename(from, to);
    },
    remove(path, options) {
      ops.push({ op: "remove", path });
      return denoFs.remove(path, options);
    },
    syncDir(path) {
      ops.push({ op: "syncDir", path });
      return denoFs.syncDir(path);
    },
  };
}

const index = (ops: Op[], match: (op: Op) => boolean, label: string): number => {
  const i = ops.findIndex(match);
  assert(i >= 0, `no ${label} in ${JSON.stringify(ops.map((o) => `${o.op} ${basename(o.path)}`))}`);
  return i;
};

Deno.test("DURABILITY asks a power-loss-proof write of an answer, an intent and a resume point", () => {
  assertEquals([DURABILITY.answered, DURABILITY.intent, DURABILITY.dest, DURABILITY.resume], [
    "full",
    "full",
    "full",
    "full",
  ]);
});

Deno.test("runPass() syncs the recorded answer before the episode moves, and forgets it only once the move is synced (invariants 2, 4)", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1");
  const ops: Op[] = [];
  await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({ receiver: scriptedReceiver(), fs: recordingFs(ops) }),
  });
  const { outbox, episodes, shipped } = lab.layout;
  const verdictWrite = index(
    ops,
    (o) => o.op === "writeNew" && o.text?.includes('"verdict"') === true,
    "verdict write",
  );
  assertEquals(ops[verdictWrite]!.sync, true, "the answer's file is fsynced");
  const verdictRename = index(
    ops,
    (o) => o.op === "rename" && o.path === ops[verdictWrite]!.path,
    "verdict rename",
  );
  const outboxSync = ops.findIndex((o, i) =>
    i > verdictRename && o.op === "syncDir" && o.path === outbox
  );
  const move = index(ops, (o) => o.op === "rename" && dirname(o.path) === episodes, "the move");
  assertEquals(ops[move]!.to, `${shipped}/ep-1`);
  assert(outboxSync > verdictRename && outboxSync < move, "outbox/ synced between record and move");
  const stateRemoved = index(
    ops,
    (o) => o.op === "remove" && o.path === lab.layout.statePath("ep-1"),
    "state removal",
  );
  const shippedSync = ops.findIndex((o, i) => i > move && o.op === "syncDir" && o.path === shipped);
  const episodesSync = ops.findIndex((o, i) =>
    i > move && o.op === "syncDir" && o.path === episodes
  );
  assert(shippedSync > move && shippedSync < stateRemoved, "shipped/ synced before forgetting");
  assert(episodesSync > move && episodesSync < stateRemoved, "episodes/ synced before forgetting");
});

Deno.test("runPass() records a quarantine and its name durably before the move, and writes the reason after (invariant 3)", async () => {
  await using lab = await makeQueueLab();
  await makeEpisode(lab.dataRoot, "ep-1", { meta: null });
  const ops: Op[] = [];
  await runPass({
    config: lab.config,
    logger: lab.logger,
    world: lab.world({ receiver: scriptedReceiver(), fs: recordingFs(ops) }),
  });
  const { outbox, episodes, quarantine } = lab.layout;
  const intent = index(
    ops,
    (o) => o.op === "writeNew" && o.text?.includes('"dest": "ep-1"') === true,
    "intent write",
  );
  assertEquals(ops[intent]!.sync, true);
  const move = index(ops, (o) => o.op === "rename" && dirname(o.path) === episodes, "the move");
  assertEquals(ops[move]!.to, `${quarantine}/ep-1`);
  const sync = ops.findIndex((o, i) => i > intent && o.op === "syncDir" && o.path === outbox);
  assert(sync > intent && sync < move, "the intent is durable before the rename");
  const reason = index(
    ops,
    (o) => o.op === "rename" && o.to === `${quarantine}/ep-1/quarantine_reason.json`,
    "reason file",
  );
  assert(reason > move, "the producer's directory is written to only once it is ours");
});

/**
 * Episode directories whose names are not valid UTF-8: no path API can name them, so they are
 * found and moved by inode (`non_utf8.ts`, find(1)) to `quarantine/nonutf8-<hex>` once complete.
 * Incomplete ones are left alone and reported once per process.
 */
import { join } from "node:path";
import { describeError } from "../log/log.ts";
import { REASON_FILE } from "../layout.ts";
import { quarantineNameFor } from "./non_utf8.ts";
import { freeNameIn } from "./moves.ts";
import { writeQuarantineReason } from "./outbox.ts";
import type { RunnerContext } from "./runner.ts";

/** The reason of a non-UTF-8 episode moved to `quarantine/<name>`. */
function reasonFor(name: string): string {
  const hex = name.slice("nonutf8-".length).replace(/\.\d+$/, "");
  return `episode directory name is not valid UTF-8 (bytes ${hex}): it cannot be ` +
    `shipped under its name; moved to quarantine/${name}`;
}

async function writeReason(ctx: RunnerContext, name: string): Promise<void> {
  const { world, layout } = ctx;
  await writeQuarantineReason(world.fs, layout, join(layout.quarantine, name, REASON_FILE), {
    episodeId: name,
    hostId: ctx.config.hostId,
    intent: {
      source: "preflight",
      reason: reasonFor(name),
      http_status: null,
      response_body: null,
      commit: null,
      at: new Date(world.now()).toISOString(),
      dest: name,
    },
  });
}

/**
 * Writes the reason file of non-UTF-8 episodes a crash left in `quarantine/` without one (the
 * move and the reason are two steps). Run once per process, with the pass's recovery.
 */
export async function finishUnaddressable(ctx: RunnerContext): Promise<string[]> {
  const { world, layout } = ctx;
  const done: string[] = [];
  for (const entry of await world.fs.readDir(layout.quarantine)) {
    if (!entry.isDirectory || !entry.name.startsWith("nonutf8-")) continue;
    if (await world.fs.lstat(join(layout.quarantine, entry.name, REASON_FILE))) continue;
    await writeReason(ctx, entry.name);
    done.push(entry.name);
  }
  return done;
}

/** Quarantines the complete episode directories whose names are not UTF-8. */
export async function quarantineUnaddressable(ctx: RunnerContext): Promise<void> {
  const { world, layout, memory } = ctx;
  let entries;
  try {
    entries = await world.episodes.unaddressable(layout.episodes);
  } catch (error) {
    ctx.log.error("cannot list episode directories whose names are not UTF-8", {
      error: describeError(error),
    });
    return;
  }
  for (const entry of entries) {
    const name = quarantineNameFor(entry.name);
    const hex = name.slice("nonutf8-".length);
    const dest = await world.lock(async () => {
      const dest = join(layout.quarantine, await freeNameIn(world.fs, layout.quarantine, name));
      const moved = await world.episodes.moveUnaddressable(layout.episodes, entry.ino, dest);
      return moved ? dest : null;
    });
    if (dest === null) {
      if (!memory.unaddressableLogged.has(entry.ino)) {
        memory.unaddressableLogged.add(entry.ino);
        ctx.log.warn("episode directory name is not valid UTF-8; quarantined once complete", {
          name_hex: hex,
        });
      }
      continue;
    }
    const id = dest.slice(layout.quarantine.length + 1);
    const reason = reasonFor(id);
    await writeReason(ctx, id);
    ctx.moves.syncLater.add(layout.quarantine).add(layout.episodes);
    ctx.tally.quarantined(id, { source: "preflight", reason, dest });
  }
}

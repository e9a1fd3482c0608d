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
    const reason = `episode directory name is not valid UTF-8 (bytes ${hex}): it cannot be ` +
      `shipped under its name; moved to quarantine/${id}`;
    await writeQuarantineReason(world.fs, layout, join(dest, REASON_FILE), {
      episodeId: id,
      hostId: ctx.config.hostId,
      intent: {
        source: "preflight",
        reason,
        http_status: null,
        response_body: null,
        commit: null,
        at: new Date(world.now()).toISOString(),
        dest: id,
      },
    });
    ctx.moves.syncLater.add(layout.quarantine).add(layout.episodes);
    ctx.tally.quarantined(id, { source: "preflight", reason, dest });
  }
}

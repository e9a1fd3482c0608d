/**
 * The moves of an episode between `episodes/`, `shipped/` and `quarantine/`, each a rename inside
 * `data_root`, and the cleanup of its files in `outbox/`.
 */
import { join } from "node:path";
import {
  fsyncDir,
  moveDirNoClobber,
  type MoveOptions,
  removeDurably,
  writeJsonAtomic,
} from "../fs/atomic.ts";
import { type QuarantineReason, REASON_FILE } from "./reason.ts";
import { type Layout, STATE_SUFFIX, statePath, tarballPath } from "./layout.ts";
import { COMPRESSION_FORMAT, COMPRESSIONS } from "../protocol/protocol.ts";
import { TEMP_SUFFIX } from "../fs/atomic.ts";

/** Creates the directories under an existing `data_root`. */
export async function ensureLayout(layout: Layout): Promise<void> {
  for (const dir of [layout.episodes, layout.outbox, layout.shipped, layout.quarantine]) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  }
}

/**
 * Quarantines an episode: the reason is written durably into its directory first, then the
 * directory is renamed into `quarantine/` (under a new name if the id is taken). A crash between
 * the two leaves the episode where it was, to be decided again. Returns the new path.
 */
export async function quarantineEpisode(
  layout: Layout,
  episodeDir: string,
  reason: QuarantineReason,
  options: MoveOptions = {},
): Promise<string> {
  // The temporary file lives in outbox/ (cleaned at every start), never in the episode.
  await writeJsonAtomic(join(episodeDir, REASON_FILE), reason, { tempDir: layout.outbox });
  return await moveDirNoClobber(episodeDir, layout.quarantine, options);
}

/**
 * Moves a shipped episode into `shipped/`. Its files and times are left as they were, so it still
 * packs to the bytes the collector holds; the rename sets the directory's ctime, which is when it
 * entered `shipped/` (what retention measures).
 */
export function shipEpisode(
  layout: Layout,
  episodeDir: string,
  options: MoveOptions = {},
): Promise<string> {
  return moveDirNoClobber(episodeDir, layout.shipped, options);
}

/** Removes an episode's tarballs from `outbox/`, keeping its state (and so its verdict). */
export async function removeTarballs(layout: Layout, episodeId: string): Promise<void> {
  for (const compression of COMPRESSIONS) {
    await Deno.remove(tarballPath(layout, episodeId, compression)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Removes an episode's tarballs and state from `outbox/`. */
export async function removeOutboxFiles(layout: Layout, episodeId: string): Promise<void> {
  for (const compression of COMPRESSIONS) {
    await removeDurably(tarballPath(layout, episodeId, compression));
  }
  await removeDurably(statePath(layout, episodeId));
}

function outboxIdOf(name: string): string | null {
  for (
    const suffix of [
      STATE_SUFFIX,
      ...COMPRESSIONS.map((c) => COMPRESSION_FORMAT[c].extension),
    ]
  ) {
    if (name.endsWith(suffix)) return name.slice(0, -suffix.length);
  }
  return null;
}

/**
 * Makes `outbox/` consistent after a crash: removes partial writes, files of episodes that are no
 * longer in `episodes/` (shipped or quarantined just before the crash, or moved by an operator),
 * tarballs without a state file (repacked on demand). Files it does not know are left alone.
 * A tarball whose state holds the collector's verdict is removed by the pass that finishes the
 * move. Returns what was removed.
 */
export async function recoverOutbox(layout: Layout): Promise<string[]> {
  const removed: string[] = [];
  const names: string[] = [];
  for await (const entry of Deno.readDir(layout.outbox)) names.push(entry.name);
  const withState = new Set(
    names.filter((n) => n.endsWith(STATE_SUFFIX)).map((n) => n.slice(0, -STATE_SUFFIX.length)),
  );
  for (const name of names) {
    const id = outboxIdOf(name);
    let stale = name.endsWith(TEMP_SUFFIX);
    if (!stale && id !== null) {
      const episode = await Deno.lstat(join(layout.episodes, id)).catch(() => null);
      stale = !episode?.isDirectory || !withState.has(id);
    }
    if (stale) {
      await Deno.remove(join(layout.outbox, name), { recursive: true });
      removed.push(name);
    }
  }
  if (removed.length > 0) await fsyncDir(layout.outbox);
  return removed;
}

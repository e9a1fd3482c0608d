/**
 * The moves of an episode between `episodes/`, `shipped/` and `quarantine/`: each one `rename(2)`
 * inside `data_root`, inside an exclusive moves section, never overwriting (invariants 1 and 4 in
 * `mod.ts`). The directories a move touched are synced once per pass by the caller
 * (`syncLater`), before the outbox forgets the episode.
 */
import { basename, dirname, join } from "node:path";
import {
  fsyncDir,
  moveDirNoClobber,
  type MoveOptions,
  removeDurably,
  writeFileAtomic,
  writeJsonAtomic,
} from "../fs/atomic.ts";
import { denoFs, errorCode, type Fs, isNotFound } from "../fs/fs.ts";
import { HISTORY_DIR, type Layout, REASON_FILE } from "../layout.ts";
import { COMPRESSIONS } from "../protocol/protocol.ts";
import type { QuarantineReason } from "./reason.ts";
import type { IntentState } from "./state.ts";
import { quarantineDestChosen } from "./transitions.ts";
import { episodeKeyOf, writeQuarantineReason } from "./outbox.ts";
import { readState } from "./state.ts";

/** Runs a function inside the exclusive moves section of the data root. */
export type MovesLock = <T>(fn: () => Promise<T>) => Promise<T>;

/** What a move needs. */
export interface MovesContext {
  fs: Fs;
  layout: Layout;
  lock: MovesLock;
  /** Directories to sync once the pass's moves are done. */
  syncLater: Set<string>;
}

/** Creates the directories under an existing `data_root`. */
export async function ensureLayout(layout: Layout, fs: Fs = denoFs): Promise<void> {
  for (const dir of [layout.episodes, layout.outbox, layout.shipped, layout.quarantine]) {
    await fs.mkdir(dir, { recursive: true, mode: 0o750 });
  }
}

const NAME_MAX = 255;

/** `name`, or `name.2`, `name.3`, … for the n-th try; never longer than a file name may be. */
export function candidateName(name: string, n: number): string {
  // Names starting with "." are reserved for the shipper's own folders (quarantine/.history).
  const visible = name.replace(/^\./, "_.");
  if (n === 1) return visible;
  const suffix = `.${n}`;
  return visible.slice(0, NAME_MAX - suffix.length) + suffix;
}

/** The first candidate name not taken in `dir`. Call it inside the moves section. */
export async function freeNameIn(fs: Fs, dir: string, name: string): Promise<string> {
  for (let n = 1;; n++) {
    const candidate = candidateName(name, n);
    if ((await fs.lstat(join(dir, candidate))) === null) return candidate;
  }
}

function isTaken(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR";
}

/**
 * Moves an answered episode into `shipped/`; null when it left `episodes/` under our feet (an
 * operator command). An unconfirmed duplicate first gets its mark in the unconfirmed folder,
 * durably, under the name it is about to take: prune keeps marked entries.
 */
export function moveToShipped(
  ctx: MovesContext,
  dir: string,
  options: { unconfirmed: boolean },
): Promise<string | null> {
  const { fs, layout } = ctx;
  return ctx.lock(async () => {
    if (!(await fs.lstat(dir))?.isDirectory) return null;
    if (!options.unconfirmed) {
      return await moveDirNoClobber(dir, layout.shipped, { syncLater: ctx.syncLater, fs });
    }
    await fs.mkdir(layout.unconfirmed, { recursive: true, mode: 0o750 });
    for (;;) {
      const name = await freeNameIn(fs, layout.shipped, basename(dir));
      await writeFileAtomic(join(layout.unconfirmed, name), "", { fs });
      try {
        await fs.rename(dir, join(layout.shipped, name));
      } catch (error) {
        if (isTaken(error)) continue;
        throw error;
      }
      ctx.syncLater.add(layout.shipped).add(dirname(dir));
      return join(layout.shipped, name);
    }
  });
}

/**
 * Finishes a decided quarantine: the name in `quarantine/` is chosen and recorded (through
 * `record`, durably) before the rename, then the reason file is written there. Returns the new
 * path; null when the episode left `episodes/` under our feet.
 */
export async function moveToQuarantine(
  ctx: MovesContext,
  dir: string,
  input: {
    state: IntentState;
    hostId: string;
    record: (state: IntentState) => Promise<void>;
  },
): Promise<string | null> {
  const { fs, layout } = ctx;
  const dest = await ctx.lock(async () => {
    if (!(await fs.lstat(dir))?.isDirectory) return null;
    let state = input.state;
    let taken = false;
    for (;;) {
      let name = state.intent.dest;
      if (taken || name === null || (await fs.lstat(join(layout.quarantine, name))) !== null) {
        name = await freeNameIn(fs, layout.quarantine, basename(dir));
        state = quarantineDestChosen(state, name);
        await input.record(state);
      }
      try {
        await fs.rename(dir, join(layout.quarantine, name));
      } catch (error) {
        // Taken between the look and the rename by something outside the moves section.
        taken = isTaken(error);
        if (taken) continue;
        throw error;
      }
      ctx.syncLater.add(layout.quarantine).add(dirname(dir));
      return join(layout.quarantine, name);
    }
  });
  if (dest === null) return null;
  await writeQuarantineReason(fs, layout, join(dest, REASON_FILE), {
    episodeId: input.state.episode_id,
    hostId: input.hostId,
    intent: input.state.intent,
  });
  return dest;
}

/**
 * An episode put back into `episodes/` by hand (`mv`) still holds its `quarantine_reason.json`:
 * the reason is set aside in `quarantine/.history/`, as `requeue` does, so it is not packed with
 * the episode and the episode is decided afresh. Returns the history file, or null when there was
 * no reason file.
 */
export async function setAsideReason(
  ctx: Pick<MovesContext, "fs" | "layout">,
  dir: string,
  now: number,
): Promise<string | null> {
  const { fs, layout } = ctx;
  const reasonPath = join(dir, REASON_FILE);
  const info = await fs.lstat(reasonPath);
  if (!info?.isFile) return null;
  let reason: unknown = null;
  try {
    reason = JSON.parse(new TextDecoder().decode(await fs.readFile(reasonPath, 1024 * 1024)));
  } catch { /* an unreadable reason is still set aside */ }
  const historyDir = join(layout.quarantine, HISTORY_DIR);
  await fs.mkdir(historyDir, { recursive: true, mode: 0o750 });
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  const name = await freeNameIn(fs, historyDir, `${basename(dir)}.${stamp}.json`);
  const history = join(historyDir, name);
  await writeJsonAtomic(history, {
    episode_id: basename(dir),
    requeued_at: new Date(now).toISOString(),
    requeued_by: "hand (found in episodes/ with its quarantine_reason.json)",
    reason,
  }, { tempDir: layout.outbox, fs });
  await removeDurably(reasonPath, fs);
  return history;
}

/**
 * Quarantines an episode for an operator command (`quarantine-unstamped`), which does not own
 * `outbox/`: the reason is written durably into its directory first, then the directory is
 * renamed into `quarantine/` (under a new name if the id is taken). A crash between the two
 * leaves the reason in `episodes/<id>/`, which the queue sets aside and decides afresh.
 * Returns the new path.
 */
export async function quarantineEpisode(
  layout: Layout,
  episodeDir: string,
  reason: QuarantineReason,
  options: MoveOptions = {},
): Promise<string> {
  // The temporary file lives in outbox/ (cleaned at every start), never in the episode.
  await writeJsonAtomic(join(episodeDir, REASON_FILE), reason, {
    tempDir: layout.outbox,
    fs: options.fs ?? denoFs,
  });
  return await moveDirNoClobber(episodeDir, layout.quarantine, options);
}

/** Options for {@linkcode removeOutboxFiles}. */
export interface RemoveOutboxOptions {
  /** @default {denoFs} */
  fs?: Fs;
  /**
   * The episode directory the files are removed for: a state that belongs to another episode
   * under the same id (a quarantine of an earlier one, cut short by a crash) is left to the
   * queue's recovery, which finishes it. @default {remove whatever is there}
   */
  episodeDir?: string;
}

/** Removes an episode's tarballs and state from `outbox/` (an operator's requeue or drain). */
export async function removeOutboxFiles(
  layout: Layout,
  episodeId: string,
  options: RemoveOutboxOptions = {},
): Promise<void> {
  const fs = options.fs ?? denoFs;
  if (options.episodeDir !== undefined) {
    const state = await readState(layout.statePath(episodeId), { fs }).catch(() => null);
    const key = state?.episode_key;
    if (key !== undefined && key !== (await episodeKeyOf(fs, options.episodeDir))) return;
  }
  for (const compression of COMPRESSIONS) {
    await removeDurably(layout.tarballPath(episodeId, compression), fs);
  }
  await removeDurably(layout.statePath(episodeId), fs);
}

/** Syncs every directory a pass's moves touched. */
export async function syncMoves(fs: Fs, dirs: Set<string>): Promise<void> {
  for (const dir of dirs) {
    await fsyncDir(dir, fs).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
  }
  dirs.clear();
}

/**
 * Reads the disk for `status` and the metrics: which episode directories are where, inside a
 * shared moves section so no episode is seen in two places or none; then, outside it, each
 * episode's bytes, preflight verdict and outbox state.
 *
 * What it reads does not grow with history: `shipped/` and `quarantine/` are counted from one
 * directory listing, never walked (their sizes are not reported), and a listing is reused while
 * the folder's times show it unchanged. The service keeps a {@linkcode SnapshotCache} from pass
 * to pass, so a complete episode is walked once, not at every pass.
 */
import { join } from "node:path";
import { DONE_MARKER } from "../episodes/scan.ts";
import { EpisodeChangedError, type Tree, walkEpisode } from "../episodes/walk.ts";
import { readMeta } from "../episodes/meta.ts";
import { preflight } from "../episodes/preflight.ts";
import { listEpisodeDirs } from "../episodes/list_episode_dirs.ts";
import { type Layout, layoutOf } from "../layout.ts";
import { lockHolder, withMovesLock } from "../queue/lock.ts";
import type { MovesLock } from "../queue/moves.ts";
import type { EpisodeSource } from "../queue/world.ts";
import { readState } from "../queue/state.ts";
import { preflightKey } from "../queue/preflight_key.ts";
import { TEMP_SUFFIX } from "../fs/atomic.ts";
import { denoFs, type FileStat, type Fs, isNotFound } from "../fs/fs.ts";
import { readUnconfirmed } from "../retention/unconfirmed.ts";
import { readDaemonStatus } from "./daemon_status.ts";
import type { EpisodeSnapshot, StatusSnapshot } from "./status.ts";

/**
 * A folder listing is reused only when the folder had not changed for this long before it was
 * listed: a change in the same timestamp tick as the listing (the kernel's file times are coarse,
 * a few ms) would otherwise leave the times equal and the count stale.
 */
const RACY_MS = 2_000;

/** What a snapshot may reuse from an earlier one. */
export interface SnapshotCache {
  /** Entry counts of `shipped/` and `quarantine/`, by path, under the folder's stat key. */
  dirs: Map<string, { key: string; count: number }>;
  /** Bytes and preflight verdict of complete episodes, by name, under their preflight key. */
  episodes: Map<string, { key: string; bytes: number; rejected: string | null }>;
}

/** An empty cache. */
export function newSnapshotCache(): SnapshotCache {
  return { dirs: new Map(), episodes: new Map() };
}

/** Options for {@linkcode readStatusSnapshot}. */
export interface SnapshotOptions {
  hostId: string;
  /** Preflight's size limit (`shipper.max_episode_bytes`). @default {Infinity} */
  maxEpisodeBytes?: number;
  /** Kept between snapshots by the service. @default {a fresh one} */
  cache?: SnapshotCache;
  /** Aborting stops reading between two episodes (it throws the signal's reason). */
  signal?: AbortSignal;
  /** @default {Date.now} */
  now?: () => number;
  /** @default {denoFs} */
  fs?: Fs;
  /**
   * The shared moves section of the data root, the listing runs inside it.
   * @default {withMovesLock of the data root, shared}
   */
  lock?: MovesLock;
  /**
   * How episodes are read: the queue's own reader (the simulator passes its `EpisodeSource`).
   * @default {denoSnapshotEpisodes}
   */
  episodes?: SnapshotEpisodes;
  /**
   * The pid of the shipper holding the data root, or null when none does; asked inside the
   * section. @default {lockHolder of the data root}
   */
  holder?: () => Promise<{ pid: number | null } | null>;
}

/**
 * What the snapshot reads of an episode: its preflight key, and its tree and `meta.json`. `walk`,
 * when given, lists the tree alone (an incomplete episode needs no `meta.json`).
 */
export type SnapshotEpisodes = Pick<EpisodeSource, "key" | "inspect"> & {
  walk?: (dir: string) => Promise<Tree>;
};

/** Deno's: {@linkcode preflightKey}, {@linkcode walkEpisode} and {@linkcode readMeta}. */
export const denoSnapshotEpisodes: SnapshotEpisodes = {
  key: preflightKey,
  inspect: async (dir) => {
    const tree = walkEpisode(dir);
    return { tree, meta: await readMeta(dir) };
  },
  walk: (dir) => Promise.resolve().then(() => walkEpisode(dir)),
};

/** What the snapshot reads with. */
interface Reader {
  fs: Fs;
  episodes: SnapshotEpisodes;
}

interface Listed {
  episodes: { name: string; completedAt: number | null }[];
  shipped: number;
  quarantined: number;
}

function stampOf(info: FileStat | null): string {
  if (!info) return "-";
  return `${info.ino}:${info.mtime ?? 0}:${info.ctime ?? 0}`;
}

async function stamps(fs: Fs, layout: Layout): Promise<string[]> {
  return await Promise.all(
    [layout.episodes, layout.shipped, layout.quarantine].map(async (p) =>
      stampOf(await fs.lstat(p).catch(() => null))
    ),
  );
}

/**
 * How many entries of `dir` can be episodes (as `listEpisodeDirs` sees them), from one listing
 * and nothing below it; no names kept past the listing, nothing sorted (at 100,000 entries that
 * halves the cost).
 */
async function countEpisodeDirs(fs: Fs, dir: string): Promise<number> {
  let count = 0;
  try {
    for (const e of await fs.readDir(dir)) {
      if (e.isDirectory && !e.isSymlink && !e.name.startsWith(".")) count++;
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return count;
}

/** Entries of `dir` that can be episodes, from the cache while the folder is unchanged. */
async function countDir(
  fs: Fs,
  dir: string,
  cache: SnapshotCache,
  now: number,
): Promise<number> {
  const info = await fs.lstat(dir).catch(() => null);
  if (!info) return 0;
  const key = stampOf(info);
  const cached = cache.dirs.get(dir);
  if (cached?.key === key) return cached.count;
  const count = await countEpisodeDirs(fs, dir);
  const changed = Math.max(info.mtime ?? now, info.ctime ?? now);
  if (changed < now - RACY_MS) cache.dirs.set(dir, { key, count });
  else cache.dirs.delete(dir);
  return count;
}

async function listOnce(
  fs: Fs,
  layout: Layout,
  cache: SnapshotCache,
  now: number,
): Promise<Listed> {
  const episodes: Listed["episodes"] = [];
  for (const name of await listEpisodeDirs(layout.episodes, { fs })) {
    const marker = await fs.lstat(join(layout.episodes, name, DONE_MARKER)).catch(() => null);
    episodes.push({ name, completedAt: marker?.mtime ?? null });
  }
  return {
    episodes,
    shipped: await countDir(fs, layout.shipped, cache, now),
    quarantined: await countDir(fs, layout.quarantine, cache, now),
  };
}

/**
 * Lists every place. Inside a shared moves section the listing is consistent with every mover
 * that takes the section; it is also repeated while the three folders' times changed during it,
 * so a mover that does not take the section (an operator's `mv`) cannot make an episode appear
 * twice or vanish.
 */
async function listConsistently(
  fs: Fs,
  layout: Layout,
  options: { cache: SnapshotCache; now: () => number },
): Promise<Listed> {
  let listed: Listed | null = null;
  for (let i = 0; i < 5; i++) {
    const before = await stamps(fs, layout);
    listed = await listOnce(fs, layout, options.cache, options.now());
    if ((await stamps(fs, layout)).join("|") === before.join("|")) break;
  }
  return listed!;
}

/** Bytes and, for a complete episode, why preflight will quarantine it (null: it passes). */
async function measure(
  reader: Reader,
  dir: string,
  episode: { name: string; complete: boolean },
  options: { maxEpisodeBytes: number; cache: SnapshotCache },
): Promise<{ bytes: number; rejected: string | null }> {
  const { name, complete } = episode;
  const { episodes } = reader;
  const key = complete ? await episodes.key(dir) : null;
  const cached = options.cache.episodes.get(name);
  if (key !== null && cached?.key === key) return cached;
  let read;
  try {
    read = !complete && episodes.walk
      ? { tree: await episodes.walk(dir), meta: null }
      : await episodes.inspect(dir);
  } catch (error) {
    // Moved, removed or being swapped since it was listed: its count stands, its bytes are
    // unknown, and the pass decides about it.
    if (error instanceof EpisodeChangedError || isNotFound(error)) {
      return { bytes: 0, rejected: null };
    }
    throw error;
  }
  const { tree, meta } = read;
  if (!complete || meta === null) return { bytes: tree.totalBytes, rejected: null };
  const verdict = preflight({
    name,
    meta,
    totalBytes: tree.totalBytes,
    maxEpisodeBytes: options.maxEpisodeBytes,
    treeProblem: tree.problem ?? null,
  });
  const result = { bytes: tree.totalBytes, rejected: verdict.send ? null : verdict.reason };
  if (key !== null) options.cache.episodes.set(name, { key, ...result });
  return result;
}

async function outboxTarballBytes(fs: Fs, layout: Layout): Promise<number> {
  let total = 0;
  try {
    for (const e of await fs.readDir(layout.outbox)) {
      if (!e.isFile || e.name.endsWith(TEMP_SUFFIX) || e.name.endsWith(".json")) continue;
      total += (await fs.lstat(join(layout.outbox, e.name)).catch(() => null))?.size ?? 0;
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return total;
}

async function countUnconfirmed(fs: Fs, layout: Layout): Promise<number> {
  let count = 0;
  for (const name of await readUnconfirmed(layout, { fs })) {
    // A mark whose entry is gone (removed by hand) marks nothing.
    if ((await fs.lstat(join(layout.shipped, name)).catch(() => null))?.isDirectory) count++;
  }
  return count;
}

/**
 * Reads everything `status` reports about a data root. Creates nothing.
 * @example
 * ```ts
 * import { readStatusSnapshot } from "./snapshot.ts";
 * import { buildStatus } from "./status.ts";
 * const snapshot = await readStatusSnapshot("/var/lib/cis490/data", { hostId: "lab-01" });
 * buildStatus(snapshot, Date.now()).states.ready.count;
 * ```
 */
export async function readStatusSnapshot(
  dataRoot: string,
  options: SnapshotOptions,
): Promise<StatusSnapshot> {
  const layout = layoutOf(dataRoot);
  const cache = options.cache ?? newSnapshotCache();
  const now = options.now ?? Date.now;
  const maxEpisodeBytes = options.maxEpisodeBytes ?? Infinity;
  const fs = options.fs ?? denoFs;
  const reader: Reader = { fs, episodes: options.episodes ?? denoSnapshotEpisodes };
  const lock: MovesLock = options.lock ??
    ((fn) => withMovesLock(dataRoot, fn, { shared: true }));
  const holderOf = options.holder ?? (() => lockHolder(dataRoot));
  const { listed, holder } = await lock(async () => ({
    listed: await listConsistently(fs, layout, { cache, now }),
    holder: await holderOf(),
  }));
  options.signal?.throwIfAborted();
  const present = new Set(listed.episodes.map((e) => e.name));
  for (const name of cache.episodes.keys()) if (!present.has(name)) cache.episodes.delete(name);
  const episodes: EpisodeSnapshot[] = [];
  for (const l of listed.episodes) {
    options.signal?.throwIfAborted();
    const dir = join(layout.episodes, l.name);
    const complete = l.completedAt !== null;
    const { bytes, rejected } = await measure(reader, dir, { name: l.name, complete }, {
      maxEpisodeBytes,
      cache,
    });
    const episode: EpisodeSnapshot = {
      name: l.name,
      complete,
      completedAt: l.completedAt,
      bytes,
      rejected,
      outbox: null,
      packed: false,
    };
    if (complete) {
      // A state that cannot be read (a directory in its place, EIO) is reported as no state:
      // status describes the disk, it never fails on one bad entry.
      const state = await readState(layout.statePath(l.name), { fs }).catch(() => null);
      if (state) {
        episode.outbox = {
          attempts: state.attempts,
          nextAttemptAt: state.next_attempt_at ? Date.parse(state.next_attempt_at) : null,
          lastError: state.last_error,
        };
        const tarball = state.packed
          ? await fs.lstat(layout.tarballPath(l.name, state.packed.compression))
            .catch(() => null)
          : null;
        episode.packed = tarball !== null && tarball.size === state.packed?.size;
      }
    }
    episodes.push(episode);
  }
  return {
    dataRoot,
    hostId: options.hostId,
    episodes,
    shipped: listed.shipped,
    quarantined: listed.quarantined,
    unconfirmed: await countUnconfirmed(fs, layout),
    outboxBytes: await outboxTarballBytes(fs, layout),
    holder,
    daemon: await readDaemonStatus(dataRoot, { fs }),
  };
}

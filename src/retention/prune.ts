/**
 * `prune`: removes `shipped/` entries older than `retention.keep_local_for_days`, measured from
 * when they were shipped: the rename into `shipped/` set the directory's ctime (README "Retention
 * clock"). Each entry is first renamed into `<data_root>/.cis490-ship.trash/` (inside a moves
 * section), then removed there, so a crash never leaves a half-deleted episode in `shipped/`
 * that looks whole; leftovers in the trash are removed by the next prune. An entry marked
 * unconfirmed (`unconfirmed.ts`) is never removed.
 */
import { join } from "node:path";
import { fsyncDir } from "../fs/atomic.ts";
import { denoFs, type Fs, isNotFound } from "../fs/fs.ts";
import { type Layout, layoutOf } from "../layout.ts";
import { withMovesLock } from "../queue/lock.ts";
import type { MovesLock } from "../queue/moves.ts";
import { listEpisodeDirs } from "../episodes/list_episode_dirs.ts";
import { type Tree, walkEpisode } from "../episodes/walk.ts";
import { formatBytes } from "../status/status.ts";
import { isUnconfirmed } from "./unconfirmed.ts";

const DAY_MS = 86_400_000;

/** A `shipped/` entry and when it was shipped (ms). */
export interface ShippedEntry {
  name: string;
  shippedAt: number;
}

/** The entries to prune at `now`, oldest first. Pure. */
export function choosePrune(
  entries: readonly ShippedEntry[],
  now: number,
  keepLocalForDays: number,
): ShippedEntry[] {
  const cutoff = now - keepLocalForDays * DAY_MS;
  return entries.filter((e) => e.shippedAt <= cutoff).sort((a, b) =>
    a.shippedAt - b.shippedAt || (a.name < b.name ? -1 : 1)
  );
}

/** What {@linkcode pruneShipped} did (or would do): `prune --json`, version 1. */
export interface PruneReport {
  version: 1;
  dry_run: boolean;
  keep_local_for_days: number;
  /** Removed (or to be removed), with the bytes of their files (null: could not be read). */
  pruned: { episode: string; shipped_at: string; bytes: number | null }[];
  /** Old enough, but the collector never confirmed them: kept until `cis490-ship confirm`. */
  unconfirmed: { episode: string; shipped_at: string }[];
  /** Entries left in `shipped/` (too young, or unconfirmed). */
  kept: number;
  /** Stopped by a signal before every chosen entry was handled. */
  interrupted: boolean;
}

/** Options for {@linkcode pruneShipped}. */
export interface PruneOptions {
  keepLocalForDays: number;
  /** @default {false} */
  dryRun?: boolean;
  /** @default {Date.now} */
  now?: () => number;
  /** Aborting stops between two entries; the report says so. */
  signal?: AbortSignal;
  /** @default {denoFs} */
  fs?: Fs;
  /** The exclusive moves section of the data root. @default {withMovesLock of the data root} */
  lock?: MovesLock;
  /**
   * Lists an entry's tree, for the bytes the report gives.
   * @default {walkEpisode}
   */
  walk?: (dir: string) => Promise<Tree>;
}

/** Options for {@linkcode readShipped}. */
export interface ReadShippedOptions {
  /** @default {denoFs} */
  fs?: Fs;
}

/** Reads `shipped/` with each entry's shipping time (its ctime). */
export async function readShipped(
  layout: Layout,
  options: ReadShippedOptions = {},
): Promise<ShippedEntry[]> {
  const fs = options.fs ?? denoFs;
  const entries: ShippedEntry[] = [];
  for (const name of await listEpisodeDirs(layout.shipped, { fs })) {
    const info = await fs.lstat(join(layout.shipped, name)).catch(() => null);
    const at = info?.ctime ?? info?.mtime ?? null;
    if (at !== null) entries.push({ name, shippedAt: at });
  }
  return entries;
}

async function emptyTrash(fs: Fs, trash: string): Promise<void> {
  try {
    for (const e of await fs.readDir(trash)) {
      await fs.remove(join(trash, e.name), { recursive: true });
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

async function bytesOf(walk: (dir: string) => Promise<Tree>, path: string): Promise<number | null> {
  try {
    return (await walk(path)).totalBytes;
  } catch {
    return null;
  }
}

/**
 * Prunes `shipped/`. The service calls it on its own period.
 * @example
 * ```ts
 * import { pruneShipped } from "./prune.ts";
 * const report = await pruneShipped("/var/lib/cis490/data", { keepLocalForDays: 7, dryRun: true });
 * report.pruned.map((p) => p.episode);
 * ```
 */
export async function pruneShipped(
  target: Layout | string,
  options: PruneOptions,
): Promise<PruneReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const now = (options.now ?? Date.now)();
  const fs = options.fs ?? denoFs;
  const lock: MovesLock = options.lock ?? ((fn) => withMovesLock(layout, fn));
  const walk = options.walk ?? ((dir: string) => Promise.resolve().then(() => walkEpisode(dir)));
  const all = await readShipped(layout, { fs });
  const chosen = choosePrune(all, now, options.keepLocalForDays);
  const report: PruneReport = {
    version: 1,
    dry_run: dryRun,
    keep_local_for_days: options.keepLocalForDays,
    pruned: [],
    unconfirmed: [],
    kept: 0,
    interrupted: false,
  };
  let vanished = 0;
  const iso = (ms: number) => new Date(ms).toISOString();
  if (!dryRun) await emptyTrash(fs, layout.trash);
  for (const entry of chosen) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    const shipped = join(layout.shipped, entry.name);
    if (dryRun) {
      if (await isUnconfirmed(layout, entry.name, { fs })) {
        report.unconfirmed.push({ episode: entry.name, shipped_at: iso(entry.shippedAt) });
      } else {
        report.pruned.push({
          episode: entry.name,
          shipped_at: iso(entry.shippedAt),
          bytes: await bytesOf(walk, shipped),
        });
      }
      continue;
    }
    // Decided again inside the section: a mark written meanwhile (the queue writes it before the
    // move into shipped/) keeps the entry.
    const moved = await lock(async (): Promise<string | "marked" | null> => {
      if (await isUnconfirmed(layout, entry.name, { fs })) return "marked";
      await fs.mkdir(layout.trash, { recursive: true, mode: 0o750 });
      const dest = join(layout.trash, `${entry.name}.${crypto.randomUUID().slice(0, 8)}`);
      try {
        await fs.rename(shipped, dest);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      await fsyncDir(layout.shipped, fs);
      return dest;
    });
    if (moved === null) {
      vanished++;
      continue;
    }
    if (moved === "marked") {
      report.unconfirmed.push({ episode: entry.name, shipped_at: iso(entry.shippedAt) });
      continue;
    }
    const bytes = await bytesOf(walk, moved);
    await fs.remove(moved, { recursive: true });
    report.pruned.push({ episode: entry.name, shipped_at: iso(entry.shippedAt), bytes });
  }
  report.kept = all.length - report.pruned.length - vanished;
  return report;
}

/** The prune report for people. */
export function formatPrune(report: PruneReport): string[] {
  const verb = report.dry_run ? "would prune" : "pruned";
  const size = (bytes: number | null) => bytes === null ? "size unknown" : formatBytes(bytes);
  const lines = report.pruned.map((p) =>
    `${verb} shipped/${p.episode} (${size(p.bytes)}, shipped ${p.shipped_at})`
  );
  for (const u of report.unconfirmed) {
    lines.push(
      `kept shipped/${u.episode}: unconfirmed, the collector never said it holds these bytes (cis490-ship confirm ${u.episode} once it does)`,
    );
  }
  const total = report.pruned.reduce((sum, p) => sum + (p.bytes ?? 0), 0);
  lines.push(
    `${verb} ${report.pruned.length} (${
      formatBytes(total)
    }), kept ${report.kept} (keep_local_for_days = ${report.keep_local_for_days})${
      report.dry_run ? " (dry run: nothing changed)" : ""
    }${report.interrupted ? " (interrupted: the rest is left for the next prune)" : ""}`,
  );
  return lines;
}

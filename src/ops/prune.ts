/**
 * `prune`: removes `shipped/` entries older than `retention.keep_local_for_days`, measured from
 * when they were shipped: the rename into `shipped/` set the directory's ctime (README "Retention
 * clock"). Each entry is first renamed into `<data_root>/.cis490-ship.trash/` (inside a moves
 * section), then removed there, so a crash never leaves a half-deleted episode in `shipped/`
 * that looks whole; leftovers in the trash are removed by the next prune.
 */
import { OWN } from "../layout.ts";
import { join } from "node:path";
import { fsyncDir } from "../fs/atomic.ts";
import { type Layout, layoutOf } from "../queue/layout.ts";
import { withMovesLock } from "../queue/lock.ts";
import { requireOwner } from "../fs/owner.ts";
import { listEpisodeDirs } from "./status.ts";

/** The folder under `data_root` where pruned entries are removed. */
export const TRASH_DIR: string = OWN.trash;

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

/** What {@linkcode pruneShipped} did (or would do). */
export interface PruneReport {
  dry_run: boolean;
  keep_local_for_days: number;
  pruned: { episode: string; shipped_at: string }[];
  kept: number;
}

/** Options for {@linkcode pruneShipped}. */
export interface PruneOptions {
  keepLocalForDays: number;
  /** @default {false} */
  dryRun?: boolean;
  /** @default {Date.now} */
  now?: () => number;
}

/** Reads `shipped/` with each entry's shipping time (its ctime). */
export async function readShipped(layout: Layout): Promise<ShippedEntry[]> {
  const entries: ShippedEntry[] = [];
  for (const name of await listEpisodeDirs(layout.shipped)) {
    const info = await Deno.lstat(join(layout.shipped, name)).catch(() => null);
    const at = info?.ctime?.getTime() ?? info?.mtime?.getTime();
    if (at !== undefined) entries.push({ name, shippedAt: at });
  }
  return entries;
}

async function emptyTrash(trash: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(trash)) {
      await Deno.remove(join(trash, e.name), { recursive: true });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Prunes `shipped/`. The daemon may call it on its own period. */
export async function pruneShipped(
  target: Layout | string,
  options: PruneOptions,
): Promise<PruneReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const now = (options.now ?? Date.now)();
  const all = await readShipped(layout);
  const chosen = choosePrune(all, now, options.keepLocalForDays);
  const report: PruneReport = {
    dry_run: dryRun,
    keep_local_for_days: options.keepLocalForDays,
    pruned: [],
    kept: all.length - chosen.length,
  };
  if (dryRun) {
    report.pruned = chosen.map((e) => ({
      episode: e.name,
      shipped_at: new Date(e.shippedAt).toISOString(),
    }));
    return report;
  }
  // Before anything is created: a trash folder another user made would lock the service out.
  await requireOwner(layout.dataRoot);
  const trash = join(layout.dataRoot, TRASH_DIR);
  await emptyTrash(trash);
  for (const entry of chosen) {
    const moved = await withMovesLock(layout, async () => {
      await Deno.mkdir(trash, { recursive: true, mode: 0o750 });
      const dest = join(trash, `${entry.name}.${crypto.randomUUID().slice(0, 8)}`);
      try {
        await Deno.rename(join(layout.shipped, entry.name), dest);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
      await fsyncDir(layout.shipped);
      return dest;
    });
    if (moved === null) continue;
    await Deno.remove(moved, { recursive: true });
    report.pruned.push({
      episode: entry.name,
      shipped_at: new Date(entry.shippedAt).toISOString(),
    });
  }
  return report;
}

/** The prune report for people. */
export function formatPrune(report: PruneReport): string[] {
  const verb = report.dry_run ? "would prune" : "pruned";
  const lines = report.pruned.map((p) => `${verb} shipped/${p.episode} (shipped ${p.shipped_at})`);
  lines.push(
    `${verb} ${report.pruned.length}, kept ${report.kept} (keep_local_for_days = ${report.keep_local_for_days})${
      report.dry_run ? " (dry run: nothing changed)" : ""
    }`,
  );
  return lines;
}

/**
 * `quarantine-unstamped` (seed: tools/quarantine_unstamped.py): moves every episode whose
 * `meta.json` carries no 40-hex `code_version.commit` to `quarantine/` with source "drain".
 *
 * Complete episodes (done.marker) are judged on any problem: missing, unparsable, no key, wrong
 * shape. An episode still being written is drained only when its `meta.json` parses and has no
 * valid commit (proof it comes from code that never stamps); a missing or half-written
 * `meta.json` there may simply not be finished yet, and moving a directory a producer is writing
 * would break the experiment. The daemon's preflight quarantines the rest once they complete.
 */
import { join } from "node:path";
import { META_FILE, readCommit } from "../episodes/preflight.ts";
import { DONE_MARKER } from "../episodes/scan.ts";
import { listEpisodeDirs } from "../episodes/list_episode_dirs.ts";
import { type Layout, layoutOf } from "../layout.ts";
import { withMovesLock } from "./lock.ts";
import { requireOwner } from "../fs/owner.ts";
import { denoFs, type Fs } from "../fs/fs.ts";
import { readText } from "../fs/read_text.ts";
import { ensureLayout, type MovesLock, quarantineEpisode, removeOutboxFiles } from "./moves.ts";
import { quarantineReason } from "./reason.ts";
import { isValidId } from "../protocol/protocol.ts";

/** What the drain does with one episode. */
export type DrainDecision =
  | { action: "keep"; why: string }
  | { action: "quarantine"; reason: string };

/** Decides one episode from its `meta.json` text (null: missing) and completeness. Pure. */
export function drainDecision(
  input: { metaText: string | null; complete: boolean },
): DrainDecision {
  const reading = readCommit(input.metaText);
  if ("commit" in reading) return { action: "keep", why: "stamped" };
  if (!input.complete) {
    let parses = input.metaText !== null;
    try {
      if (parses) JSON.parse(input.metaText as string);
    } catch {
      parses = false;
    }
    if (!parses) {
      return { action: "keep", why: `still being written and ${reading.problem}` };
    }
  }
  return {
    action: "quarantine",
    reason:
      `${reading.problem}: the episode was produced by code that does not stamp its commit (drained by quarantine-unstamped)`,
  };
}

/** One episode in the drain's report. */
export interface DrainItem {
  episode: string;
  action: "keep" | "quarantine";
  /** Why it was kept, or the quarantine reason. */
  why: string;
  /** Where it went (null in a dry run, or when kept). */
  to: string | null;
}

/** The drain's report (`--json` prints it). */
export interface DrainReport {
  version: 1;
  dry_run: boolean;
  quarantined: DrainItem[];
  kept: DrainItem[];
  /** Stopped by a signal before every episode was looked at; the rest stays in `episodes/`. */
  interrupted: boolean;
}

/** Options for {@linkcode drainUnstamped}. */
export interface DrainOptions {
  hostId: string;
  /** Report the plan, change nothing. @default {false} */
  dryRun?: boolean;
  /** @default {Date.now} */
  now?: () => number;
  /** Aborting stops between two episodes; the report says so. */
  signal?: AbortSignal;
  /** @default {denoFs} */
  fs?: Fs;
  /** The exclusive moves section of the data root. @default {withMovesLock of the data root} */
  lock?: MovesLock;
  /**
   * Refuses a caller that does not own the data root, before anything changes.
   * @default {requireOwner}
   */
  requireOwner?: (dataRoot: string) => Promise<void>;
}

async function readMetaText(fs: Fs, dir: string): Promise<string | null> {
  const path = join(dir, META_FILE);
  const info = await fs.lstat(path).catch(() => null);
  if (!info?.isFile) return null;
  return await readText(fs, path).catch(() => null);
}

async function decideAt(fs: Fs, dir: string): Promise<DrainDecision | null> {
  const info = await fs.lstat(dir).catch(() => null);
  if (!info?.isDirectory) return null;
  const complete = (await fs.lstat(join(dir, DONE_MARKER)).catch(() => null)) !== null;
  return drainDecision({ metaText: await readMetaText(fs, dir), complete });
}

/**
 * Quarantines the unstamped episodes of a data root, each inside an exclusive moves section
 * (decided again there, so a daemon that moved it first wins). Idempotent; never overwrites.
 */
export async function drainUnstamped(
  target: Layout | string,
  options: DrainOptions,
): Promise<DrainReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? Date.now;
  const fs = options.fs ?? denoFs;
  const lock: MovesLock = options.lock ?? ((fn) => withMovesLock(layout, fn));
  const report: DrainReport = {
    version: 1,
    dry_run: dryRun,
    quarantined: [],
    kept: [],
    interrupted: false,
  };
  if (!dryRun) {
    // Before anything is created: a file another user made here would lock the service out.
    await (options.requireOwner ?? requireOwner)(layout.dataRoot);
    await ensureLayout(layout, fs);
  }
  for (const name of await listEpisodeDirs(layout.episodes, { fs })) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    const dir = join(layout.episodes, name);
    const planned = await decideAt(fs, dir);
    if (planned === null) continue;
    if (planned.action === "keep") {
      report.kept.push({ episode: name, action: "keep", why: planned.why, to: null });
      continue;
    }
    if (dryRun) {
      report.quarantined.push({
        episode: name,
        action: "quarantine",
        why: planned.reason,
        to: null,
      });
      continue;
    }
    const item = await lock(async (): Promise<DrainItem | "stopped" | null> => {
      // The section may have been a long wait: a stop asked meanwhile starts no new move.
      if (options.signal?.aborted) return "stopped";
      const decision = await decideAt(fs, dir);
      // Gone (the daemon quarantined it first) or fixed meanwhile: nothing to do.
      if (decision === null) return null;
      if (decision.action === "keep") {
        return { episode: name, action: "keep", why: decision.why, to: null };
      }
      const reason = quarantineReason({
        episodeId: name,
        hostId: options.hostId,
        now: now(),
        source: "drain",
        reason: decision.reason,
        commit: null,
      });
      let to: string;
      try {
        // The queue's own move: the reason first, then the rename. Its temporary file goes to
        // outbox/, whose crash recovery runs inside a moves section too, so never during this.
        to = await quarantineEpisode(layout, dir, reason, { fs });
      } catch (error) {
        // Moved away under us by a mover that does not take the section: it is not ours now.
        if ((await fs.lstat(dir).catch(() => null)) === null) return null;
        throw error;
      }
      if (isValidId(name)) await removeOutboxFiles(layout, name, { fs, episodeDir: to });
      return { episode: name, action: "quarantine", why: decision.reason, to };
    });
    if (item === "stopped") {
      report.interrupted = true;
      break;
    }
    if (item) (item.action === "keep" ? report.kept : report.quarantined).push(item);
  }
  return report;
}

/** The drain's report for people: one line per quarantined episode, then a summary. */
export function formatDrain(report: DrainReport): string[] {
  const verb = report.dry_run ? "would quarantine" : "quarantined";
  const lines = report.quarantined.map((q) =>
    `${verb} ${q.episode}${q.to ? ` -> ${q.to}` : ""}: ${q.why}`
  );
  lines.push(
    `${verb} ${report.quarantined.length}, kept ${report.kept.length}${
      report.dry_run ? " (dry run: nothing changed)" : ""
    }${report.interrupted ? " (interrupted: the rest stays in episodes/)" : ""}`,
  );
  return lines;
}

/**
 * `requeue`: moves quarantined episodes back to `episodes/<id>/`, where the daemon ships them
 * again. `quarantine_reason.json` is moved out of the episode first, into
 * `quarantine/.history/`, so it is never packed with it. A clash in `episodes/` is refused: the
 * episode is never overwritten and never shipped under another id.
 */
import { HISTORY_DIR } from "../layout.ts";
import { join } from "node:path";
import { fsyncDir, removeDurably, writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import { opsTempDir } from "./_temp.ts";
import { isValidId } from "../protocol/protocol.ts";
import { type Layout, layoutOf } from "../queue/layout.ts";
import { withMovesLock } from "../queue/lock.ts";
import { requireOwner } from "../fs/owner.ts";
import { ensureLayout, removeOutboxFiles } from "../queue/moves.ts";
import { REASON_FILE } from "../queue/reason.ts";
import { listEpisodeDirs } from "./status.ts";

/** The folder under `quarantine/` that keeps the reasons of requeued episodes. */
export { HISTORY_DIR };

/** A directory in `quarantine/` and the id it goes back under. */
export interface QuarantinedEntry {
  /** Its name in `quarantine/` (`<id>`, or `<id>.2` after a clash). */
  dir: string;
  /** The id its reason file names, or the one history recorded, or null when neither does. */
  recordedId: string | null;
}

/** Which quarantined episodes to requeue. */
export type Selection = { all: true } | { ids: string[] };

/** One step of the plan. */
export type RequeueStep =
  | { dir: string; episode: string; action: "requeue" }
  | { dir: string; episode: string; action: "refuse"; why: string };

/** The id an entry goes back under. */
export function requeueIdOf(entry: QuarantinedEntry): string {
  return entry.recordedId ?? entry.dir;
}

/**
 * Plans a requeue. Pure. `taken` holds the names already in `episodes/`. Returns the steps and the
 * requested ids that match nothing in `quarantine/`.
 */
export function planRequeue(
  entries: readonly QuarantinedEntry[],
  selection: Selection,
  taken: ReadonlySet<string>,
): { steps: RequeueStep[]; unknown: string[] } {
  const wanted = "all" in selection ? null : new Set(selection.ids);
  const matched = new Set<string>();
  const claimed = new Set(taken);
  const steps: RequeueStep[] = [];
  for (const entry of [...entries].sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0))) {
    const episode = requeueIdOf(entry);
    if (wanted !== null) {
      const hit = wanted.has(entry.dir) ? entry.dir : wanted.has(episode) ? episode : null;
      if (hit === null) continue;
      matched.add(hit);
    }
    const refuse = (why: string) => steps.push({ dir: entry.dir, episode, action: "refuse", why });
    if (!isValidId(episode)) {
      refuse(`"${episode}" is not a valid episode id; rename it by hand`);
    } else if (claimed.has(episode)) {
      refuse(
        taken.has(episode)
          ? `episodes/${episode} already exists; it is never overwritten`
          : `another quarantined directory goes back as "${episode}" in this run`,
      );
    } else {
      claimed.add(episode);
      steps.push({ dir: entry.dir, episode, action: "requeue" });
    }
  }
  const unknown = wanted === null ? [] : [...wanted].filter((id) => !matched.has(id));
  return { steps, unknown };
}

/** What {@linkcode requeue} did (or would do). */
export interface RequeueReport {
  dry_run: boolean;
  requeued: { dir: string; episode: string; history: string | null }[];
  refused: { dir: string; episode: string; why: string }[];
  /** Requested ids found nowhere in `quarantine/`. */
  unknown: string[];
}

/** Options for {@linkcode requeue}. */
export interface RequeueOptions {
  /** @default {false} */
  dryRun?: boolean;
  /** @default {Date.now} */
  now?: () => number;
}

async function readRecordedId(path: string): Promise<string | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    return typeof value?.episode_id === "string" ? value.episode_id : null;
  } catch {
    return null;
  }
}

/** History records by quarantine directory name, latest last (for a reason already moved out). */
async function historyIds(layout: Layout): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const dir = join(layout.quarantine, HISTORY_DIR);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".json")) names.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const name of names.sort()) {
    try {
      const record = JSON.parse(await Deno.readTextFile(join(dir, name)));
      if (typeof record?.from === "string" && typeof record?.episode_id === "string") {
        ids.set(record.from, record.episode_id);
      }
    } catch { /* not ours */ }
  }
  return ids;
}

async function readEntries(layout: Layout): Promise<QuarantinedEntry[]> {
  const history = await historyIds(layout);
  const entries: QuarantinedEntry[] = [];
  for (const dir of await listEpisodeDirs(layout.quarantine)) {
    const recorded = await readRecordedId(join(layout.quarantine, dir, REASON_FILE));
    entries.push({ dir, recordedId: recorded ?? history.get(dir) ?? null });
  }
  return entries;
}

async function freeHistoryPath(dir: string, episode: string, now: number): Promise<string> {
  const stamp = new Date(now).toISOString().replaceAll(":", "-");
  for (let n = 1;; n++) {
    const path = join(dir, `${episode}.${stamp}${n === 1 ? "" : `.${n}`}.json`);
    if ((await Deno.lstat(path).catch(() => null)) === null) return path;
  }
}

/**
 * Requeues quarantined episodes, each inside an exclusive moves section: the reason goes to
 * history, then one rename puts the directory back under its id.
 */
export async function requeue(
  target: Layout | string,
  selection: Selection,
  options: RequeueOptions = {},
): Promise<RequeueReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? Date.now;
  if (!dryRun) {
    // Before anything is created: a file another user made here would lock the service out.
    await requireOwner(layout.dataRoot);
    await ensureLayout(layout);
  }
  const entries = await readEntries(layout);
  const taken = new Set(await listAllNames(layout.episodes));
  const { steps, unknown } = planRequeue(entries, selection, taken);
  const report: RequeueReport = { dry_run: dryRun, requeued: [], refused: [], unknown };
  for (const step of steps) {
    if (step.action === "refuse") {
      report.refused.push({ dir: step.dir, episode: step.episode, why: step.why });
      continue;
    }
    if (dryRun) {
      report.requeued.push({ dir: step.dir, episode: step.episode, history: null });
      continue;
    }
    const done = await withMovesLock(layout, () => moveBack(layout, step.dir, step.episode, now()));
    if (typeof done === "string" || done === null) {
      report.requeued.push({ dir: step.dir, episode: step.episode, history: done });
    } else {
      report.refused.push({ dir: step.dir, episode: step.episode, why: done.refused });
    }
  }
  return report;
}

async function listAllNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

/** One requeue, inside the moves section. Returns the history file (null: no reason file). */
async function moveBack(
  layout: Layout,
  dir: string,
  episode: string,
  now: number,
): Promise<string | null | { refused: string }> {
  const source = join(layout.quarantine, dir);
  const dest = join(layout.episodes, episode);
  if ((await Deno.lstat(source).catch(() => null)) === null) {
    return { refused: `quarantine/${dir} is gone (moved by another process)` };
  }
  if ((await Deno.lstat(dest).catch(() => null)) !== null) {
    return { refused: `episodes/${episode} already exists; it is never overwritten` };
  }
  const reasonPath = join(source, REASON_FILE);
  let reasonText: string | null = null;
  try {
    reasonText = await Deno.readTextFile(reasonPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  let history: string | null = null;
  if (reasonText !== null) {
    const historyDir = join(layout.quarantine, HISTORY_DIR);
    await Deno.mkdir(historyDir, { recursive: true, mode: 0o750 });
    history = await freeHistoryPath(historyDir, episode, now);
    let reason: unknown = reasonText;
    try {
      reason = JSON.parse(reasonText);
    } catch { /* kept as text */ }
    await writeJsonAtomic(history, {
      episode_id: episode,
      from: dir,
      requeued_at: new Date(now).toISOString(),
      reason,
    }, { tempDir: await opsTempDir(layout) });
    await removeDurably(reasonPath);
  }
  // A stale outbox state could carry an answer recorded for the old attempt; start afresh.
  await removeOutboxFiles(layout, episode);
  try {
    await Deno.rename(source, dest);
  } catch (error) {
    if (reasonText !== null) {
      await writeFileAtomic(reasonPath, reasonText, { tempDir: await opsTempDir(layout) });
    }
    const code = (error as { code?: string }).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      return { refused: `episodes/${episode} already exists; it is never overwritten` };
    }
    throw error;
  }
  await fsyncDir(layout.episodes);
  await fsyncDir(layout.quarantine);
  return history;
}

/** The requeue report for people. */
export function formatRequeue(report: RequeueReport): string[] {
  const verb = report.dry_run ? "would requeue" : "requeued";
  const lines: string[] = [];
  for (const r of report.requeued) {
    lines.push(
      `${verb} quarantine/${r.dir} -> episodes/${r.episode}${
        r.history ? ` (reason kept in ${r.history})` : ""
      }`,
    );
  }
  for (const r of report.refused) lines.push(`refused quarantine/${r.dir}: ${r.why}`);
  for (const id of report.unknown) lines.push(`not in quarantine/: ${id}`);
  lines.push(
    `${verb} ${report.requeued.length}, refused ${report.refused.length}, unknown ${report.unknown.length}${
      report.dry_run ? " (dry run: nothing changed)" : ""
    }`,
  );
  return lines;
}

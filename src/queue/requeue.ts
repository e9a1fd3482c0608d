/**
 * `requeue`: moves quarantined episodes back to `episodes/<id>/`, where the daemon ships them
 * again. `quarantine_reason.json` is moved out of the episode first, into
 * `quarantine/.history/`, so it is never packed with it (and an episode holding one is never
 * taken for a quarantine a crash interrupted). A clash in `episodes/` is refused: the episode is
 * never overwritten and never shipped under another id.
 *
 * The id an entry goes back under is the name the operator sees in `quarantine/`
 * ({@linkcode requeueIdOf}): a directory renamed there goes back under its new name.
 */
import { HISTORY_DIR, type Layout, layoutOf, REASON_FILE } from "../layout.ts";
import { join } from "node:path";
import {
  fsyncDir,
  removeDurably,
  TEMP_SUFFIX,
  writeFileAtomic,
  writeJsonAtomic,
} from "../fs/atomic.ts";
import { denoFs, errorCode, type Fs, isNotFound } from "../fs/fs.ts";
import { readText } from "../fs/read_text.ts";
import { isValidId } from "../protocol/protocol.ts";
import { withMovesLock } from "./lock.ts";
import { ensureLayout, type MovesLock, removeOutboxFiles } from "./moves.ts";
import { listEpisodeDirs } from "../episodes/list_episode_dirs.ts";
import { requireOwner } from "../fs/owner.ts";

/** The folder under `quarantine/` that keeps the reasons of requeued episodes. */
export { HISTORY_DIR };

/** Longest episode id (protocol.ts `ID_PATTERN`). */
const MAX_ID_LENGTH = 200;

/** A directory in `quarantine/` and the id its reason names. */
export interface QuarantinedEntry {
  /** Its name in `quarantine/` (`<id>`, `<id>.2` after a clash, or what the operator renamed it to). */
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

/**
 * The id an entry goes back under: the name the operator sees in `quarantine/`, except
 * - `<id>.N`, the shipper's own clash suffix on the id its reason names, goes back as `<id>`;
 * - a name too long for an id with a `.N` suffix (a trimmed non-UTF-8 name, `nonutf8-<hex>.2`)
 *   keeps its suffix and loses the characters before it, so it stays apart from the first one.
 * Anything else that is not a valid id is refused with the advice to rename it. Pure.
 */
export function requeueIdOf(entry: QuarantinedEntry): string {
  const { dir, recordedId } = entry;
  if (
    recordedId !== null && dir.startsWith(`${recordedId}.`) &&
    /^\d+$/.test(dir.slice(recordedId.length + 1))
  ) return recordedId;
  if (isValidId(dir)) return dir;
  const suffixed = /^(.*)(\.\d+)$/.exec(dir);
  if (suffixed && dir.length > MAX_ID_LENGTH) {
    const [, base, suffix] = suffixed as unknown as [string, string, string];
    const fitted = base.slice(0, MAX_ID_LENGTH - suffix.length) + suffix;
    if (isValidId(fitted)) return fitted;
  }
  return dir;
}

/**
 * Plans a requeue. Pure. `taken` holds the names already in `episodes/`. Returns the steps and the
 * requested names that match nothing in `quarantine/`.
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
      refuse(
        `"${entry.dir}" is not a valid episode id: rename quarantine/${entry.dir} to a valid episode id, then requeue it by its new name`,
      );
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

/** What {@linkcode requeue} did (or would do): `requeue --json`, version 1. */
export interface RequeueReport {
  version: 1;
  dry_run: boolean;
  requeued: { dir: string; episode: string; history: string | null }[];
  refused: { dir: string; episode: string; why: string }[];
  /** Requested names found nowhere in `quarantine/`. */
  unknown: string[];
  /** Stopped by a signal before every step was taken; the rest stays in `quarantine/`. */
  interrupted: boolean;
}

/** Options for {@linkcode requeue}. */
export interface RequeueOptions {
  /** @default {false} */
  dryRun?: boolean;
  /** @default {Date.now} */
  now?: () => number;
  /** Aborting stops between two moves; the report says so. */
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

async function readRecordedId(fs: Fs, path: string): Promise<string | null> {
  try {
    const value = JSON.parse(await readText(fs, path));
    return typeof value?.episode_id === "string" ? value.episode_id : null;
  } catch {
    return null;
  }
}

/** History records by quarantine directory name, latest last (for a reason already moved out). */
async function historyIds(fs: Fs, layout: Layout): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const names: string[] = [];
  try {
    for (const e of await fs.readDir(layout.history)) {
      if (e.name.endsWith(".json")) names.push(e.name);
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  for (const name of names.sort()) {
    try {
      const record = JSON.parse(await readText(fs, join(layout.history, name)));
      if (typeof record?.from === "string" && typeof record?.episode_id === "string") {
        ids.set(record.from, record.episode_id);
      }
    } catch { /* not ours */ }
  }
  return ids;
}

async function readEntries(fs: Fs, layout: Layout): Promise<QuarantinedEntry[]> {
  const history = await historyIds(fs, layout);
  const entries: QuarantinedEntry[] = [];
  for (const dir of await listEpisodeDirs(layout.quarantine, { fs })) {
    const recorded = await readRecordedId(fs, join(layout.quarantine, dir, REASON_FILE));
    entries.push({ dir, recordedId: recorded ?? history.get(dir) ?? null });
  }
  return entries;
}

async function freeHistoryPath(
  fs: Fs,
  dir: string,
  episode: string,
  now: number,
): Promise<string> {
  const stamp = new Date(now).toISOString().replaceAll(":", "-");
  for (let n = 1;; n++) {
    const path = join(dir, `${episode}.${stamp}${n === 1 ? "" : `.${n}`}.json`);
    if ((await fs.lstat(path).catch(() => null)) === null) return path;
  }
}

/**
 * The folder for the operator commands' temporary files, inside `data_root` (same file system,
 * so renames stay atomic) and apart from `outbox/`, whose crash recovery in a running daemon
 * removes temporary files; what a crashed command left there is removed. Call it inside an
 * exclusive moves section.
 */
async function opsTempDir(fs: Fs, layout: Layout): Promise<string> {
  await fs.mkdir(layout.opsTemp, { recursive: true, mode: 0o750 });
  for (const e of await fs.readDir(layout.opsTemp)) {
    if (e.name.endsWith(TEMP_SUFFIX)) {
      await fs.remove(join(layout.opsTemp, e.name)).catch(() => {});
    }
  }
  return layout.opsTemp;
}

/** Options for {@linkcode archiveReason}. */
export interface ArchiveOptions {
  /** The id the episode goes back under. */
  episode: string;
  /** Where it came from: its name in `quarantine/`. */
  from: string;
  now: number;
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Moves `<dir>/quarantine_reason.json` into `quarantine/.history/<episode>.<time>.json`
 * (`{"episode_id", "from", "requeued_at", "reason"}`): written durably first, then the reason
 * removed durably. Returns the history file and the reason's text, or null when `dir` holds no
 * reason. Call it inside an exclusive moves section. The queue calls it too, for an episode an
 * operator moved back by hand (`mv`) with its reason inside.
 */
export async function archiveReason(
  layout: Layout,
  dir: string,
  options: ArchiveOptions,
): Promise<{ history: string; text: string } | null> {
  const fs = options.fs ?? denoFs;
  const reasonPath = join(dir, REASON_FILE);
  let text: string;
  try {
    text = await readText(fs, reasonPath);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  await fs.mkdir(layout.history, { recursive: true, mode: 0o750 });
  const history = await freeHistoryPath(fs, layout.history, options.episode, options.now);
  let reason: unknown = text;
  try {
    reason = JSON.parse(text);
  } catch { /* kept as text */ }
  await writeJsonAtomic(history, {
    episode_id: options.episode,
    from: options.from,
    requeued_at: new Date(options.now).toISOString(),
    reason,
  }, { tempDir: await opsTempDir(fs, layout), fs });
  await removeDurably(reasonPath, fs);
  return { history, text };
}

/**
 * Requeues quarantined episodes, each inside an exclusive moves section: the reason goes to
 * history, then one rename puts the directory back under its id.
 * @example
 * ```ts
 * import { requeue } from "./requeue.ts";
 * const report = await requeue("/var/lib/cis490/data", { ids: ["ep-0042"] }, { dryRun: true });
 * report.requeued.map((r) => r.episode);
 * ```
 */
export async function requeue(
  target: Layout | string,
  selection: Selection,
  options: RequeueOptions = {},
): Promise<RequeueReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? Date.now;
  const fs = options.fs ?? denoFs;
  const lock: MovesLock = options.lock ?? ((fn) => withMovesLock(layout, fn));
  // Before anything is created: a file another user made here would lock the service out.
  if (!dryRun) await (options.requireOwner ?? requireOwner)(layout.dataRoot);
  const entries = await readEntries(fs, layout);
  const taken = new Set(await listAllNames(fs, layout.episodes));
  const { steps, unknown } = planRequeue(entries, selection, taken);
  const report: RequeueReport = {
    version: 1,
    dry_run: dryRun,
    requeued: [],
    refused: [],
    unknown,
    interrupted: false,
  };
  if (!dryRun && steps.some((s) => s.action === "requeue")) await ensureLayout(layout, fs);
  for (const step of steps) {
    if (step.action === "refuse") {
      report.refused.push({ dir: step.dir, episode: step.episode, why: step.why });
      continue;
    }
    if (dryRun) {
      report.requeued.push({ dir: step.dir, episode: step.episode, history: null });
      continue;
    }
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    const done = await lock(() => {
      // The section may have been a long wait: a stop asked meanwhile starts no new move.
      if (options.signal?.aborted) return Promise.resolve("stopped" as const);
      return moveBack(fs, layout, step, now());
    });
    if (done === "stopped") {
      report.interrupted = true;
      break;
    }
    if (typeof done === "string" || done === null) {
      report.requeued.push({ dir: step.dir, episode: step.episode, history: done });
    } else {
      report.refused.push({ dir: step.dir, episode: step.episode, why: done.refused });
    }
  }
  return report;
}

async function listAllNames(fs: Fs, dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for (const e of await fs.readDir(dir)) out.push(e.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return out;
}

/** One requeue, inside the moves section. Returns the history file (null: no reason file). */
async function moveBack(
  fs: Fs,
  layout: Layout,
  step: { dir: string; episode: string },
  now: number,
): Promise<string | null | { refused: string }> {
  const { dir, episode } = step;
  const source = join(layout.quarantine, dir);
  const dest = join(layout.episodes, episode);
  if ((await fs.lstat(source).catch(() => null)) === null) {
    return { refused: `quarantine/${dir} is gone (moved by another process)` };
  }
  if ((await fs.lstat(dest).catch(() => null)) !== null) {
    return { refused: `episodes/${episode} already exists; it is never overwritten` };
  }
  const archived = await archiveReason(layout, source, { episode, from: dir, now, fs });
  // A stale outbox state could carry an answer recorded for the old attempt; start afresh.
  await removeOutboxFiles(layout, episode, { fs, episodeDir: source });
  try {
    await fs.rename(source, dest);
  } catch (error) {
    if (archived !== null) {
      await writeFileAtomic(join(source, REASON_FILE), archived.text, {
        tempDir: await opsTempDir(fs, layout),
        fs,
      });
    }
    const code = errorCode(error);
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      return { refused: `episodes/${episode} already exists; it is never overwritten` };
    }
    throw error;
  }
  await fsyncDir(layout.episodes, fs);
  await fsyncDir(layout.quarantine, fs);
  return archived?.history ?? null;
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
    }${report.interrupted ? " (interrupted: the rest stays in quarantine/)" : ""}`,
  );
  return lines;
}

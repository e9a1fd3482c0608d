/**
 * `confirm`: an operator's word that the collector holds the bytes of shipped episodes it never
 * confirmed (a 409 without a digest): their marks are removed, so `prune` may remove them in
 * due course. Nothing in `shipped/` moves.
 */
import { join } from "node:path";
import { fsyncDir } from "../fs/atomic.ts";
import { denoFs, type Fs, isNotFound } from "../fs/fs.ts";
import { type Layout, layoutOf } from "../layout.ts";
import { markPath, readUnconfirmed } from "./unconfirmed.ts";

/** Which marks to remove: by name in `shipped/`, or all. */
export type ConfirmSelection = { all: true } | { names: string[] };

/** What {@linkcode confirmShipped} did (or would do): `confirm --json`, version 1. */
export interface ConfirmReport {
  version: 1;
  dry_run: boolean;
  /** Marks removed; `shipped`: whether `shipped/<episode>` still exists. */
  confirmed: { episode: string; shipped: boolean }[];
  /** Names given that have no mark. */
  unknown: string[];
  /** Stopped by a signal before every mark was handled. */
  interrupted: boolean;
}

/** Options for {@linkcode confirmShipped}. */
export interface ConfirmOptions {
  /** @default {false} */
  dryRun?: boolean;
  /** Aborting stops between two marks; the report says so. */
  signal?: AbortSignal;
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Removes the unconfirmed marks of the selected `shipped/` entries.
 * @example
 * ```ts
 * import { confirmShipped } from "./confirm.ts";
 * const report = await confirmShipped("/var/lib/cis490/data", { names: ["ep-0042"] });
 * report.unknown; // names that were not marked
 * ```
 */
export async function confirmShipped(
  target: Layout | string,
  selection: ConfirmSelection,
  options: ConfirmOptions = {},
): Promise<ConfirmReport> {
  const layout = typeof target === "string" ? layoutOf(target) : target;
  const dryRun = options.dryRun ?? false;
  const fs = options.fs ?? denoFs;
  const marks = new Set(await readUnconfirmed(layout, { fs }));
  const wanted = "all" in selection ? [...marks] : [...new Set(selection.names)];
  const report: ConfirmReport = {
    version: 1,
    dry_run: dryRun,
    confirmed: [],
    unknown: wanted.filter((n) => !marks.has(n)),
    interrupted: false,
  };
  let removed = false;
  for (const name of wanted.filter((n) => marks.has(n))) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    const shipped = (await fs.lstat(join(layout.shipped, name)).catch(() => null)) !== null;
    if (!dryRun) {
      try {
        await fs.remove(markPath(layout, name));
        removed = true;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    report.confirmed.push({ episode: name, shipped });
  }
  if (removed) await fsyncDir(layout.unconfirmed, fs);
  return report;
}

/** The confirm report for people. */
export function formatConfirm(report: ConfirmReport): string[] {
  const verb = report.dry_run ? "would confirm" : "confirmed";
  const lines = report.confirmed.map((c) =>
    `${verb} shipped/${c.episode}${c.shipped ? "" : " (no longer in shipped/)"}`
  );
  for (const name of report.unknown) lines.push(`not marked unconfirmed: ${name}`);
  lines.push(
    `${verb} ${report.confirmed.length}, unknown ${report.unknown.length}${
      report.dry_run ? " (dry run: nothing changed)" : ""
    }${report.interrupted ? " (interrupted)" : ""}`,
  );
  return lines;
}

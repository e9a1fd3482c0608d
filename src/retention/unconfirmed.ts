/**
 * Marks of shipped episodes the collector never confirmed: the queue writes an empty file
 * `<data_root>/.cis490-ship.unconfirmed/<name in shipped/>` when a collector answered 409 without
 * a digest (it says it holds the id, but not that it holds these bytes). `prune` never removes a
 * marked entry; `cis490-ship confirm` removes marks once an operator has checked.
 */
import { join } from "node:path";
import { denoFs, type Fs, isNotFound } from "../fs/fs.ts";
import type { Layout } from "../layout.ts";

/** Options for {@linkcode isUnconfirmed} and {@linkcode readUnconfirmed}. */
export interface UnconfirmedOptions {
  /** @default {denoFs} */
  fs?: Fs;
}

/** Path of the mark of `shipped/<name>`. */
export function markPath(layout: Layout, name: string): string {
  return join(layout.unconfirmed, name);
}

/** Whether `shipped/<name>` is marked unconfirmed. */
export async function isUnconfirmed(
  layout: Layout,
  name: string,
  options: UnconfirmedOptions = {},
): Promise<boolean> {
  const fs = options.fs ?? denoFs;
  return (await fs.lstat(markPath(layout, name)).catch(() => null)) !== null;
}

/**
 * The names of every mark, sorted, whether or not its `shipped/` entry still exists (one
 * directory listing). [] when there are none.
 * @example
 * ```ts
 * import { readUnconfirmed } from "./unconfirmed.ts";
 * import { layoutOf } from "../layout.ts";
 * await readUnconfirmed(layoutOf("/nonexistent")); // []
 * ```
 */
export async function readUnconfirmed(
  layout: Layout,
  options: UnconfirmedOptions = {},
): Promise<string[]> {
  const fs = options.fs ?? denoFs;
  const out: string[] = [];
  try {
    for (const e of await fs.readDir(layout.unconfirmed)) {
      if (!e.name.startsWith(".")) out.push(e.name);
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return out.sort();
}

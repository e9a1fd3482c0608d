/**
 * Marks of shipped episodes the collector never confirmed: the queue writes an empty file
 * `<data_root>/.cis490-ship.unconfirmed/<name in shipped/>` when a collector answered 409 without
 * a digest (it says it holds the id, but not that it holds these bytes). `prune` never removes a
 * marked entry; `cis490-ship confirm` removes marks once an operator has checked.
 */
import { join } from "node:path";
import type { Layout } from "../layout.ts";

/** Path of the mark of `shipped/<name>`. */
export function markPath(layout: Layout, name: string): string {
  return join(layout.unconfirmed, name);
}

/** Whether `shipped/<name>` is marked unconfirmed. */
export async function isUnconfirmed(layout: Layout, name: string): Promise<boolean> {
  return (await Deno.lstat(markPath(layout, name)).catch(() => null)) !== null;
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
export async function readUnconfirmed(layout: Layout): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(layout.unconfirmed)) {
      if (!e.name.startsWith(".")) out.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

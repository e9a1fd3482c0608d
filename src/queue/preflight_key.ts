/** The key a cached preflight result is kept under: it changes when the episode does. */
import { join } from "node:path";
import { META_FILE } from "../episodes/preflight.ts";
import { DONE_MARKER } from "../episodes/scan.ts";

function stamp(info: Deno.FileInfo | null): string {
  if (!info) return "-";
  return `${info.ino}:${info.size}:${info.mtime?.getTime() ?? 0}:${info.ctime?.getTime() ?? 0}`;
}

/**
 * A key that changes when the episode directory, its `done.marker` or its `meta.json` changes:
 * a cached preflight result is used only while the key is the same. (The tree is walked again
 * before packing anyway, so the size limit is always checked on what is packed.)
 */
export function preflightKey(dir: string): Promise<string> {
  // Synchronous lstats: 2–3 µs each against 60–77 µs for Deno's async ones, three per episode.
  return Promise.resolve(
    [dir, join(dir, DONE_MARKER), join(dir, META_FILE)].map((p) => stamp(lstatOrNull(p))).join("|"),
  );
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch {
    return null;
  }
}

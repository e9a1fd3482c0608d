/**
 * Reads an episode's `meta.json` safely: never through a symlink, never more than a size limit,
 * so a hostile or broken episode cannot make the shipper read elsewhere or exhaust memory.
 */
import { join } from "node:path";
import { META_FILE } from "./preflight.ts";

/** The largest `meta.json` read: metadata, not data. */
export const MAX_META_BYTES = 1024 * 1024;

/** Why `meta.json` gave no text. */
export type MetaProblemKind = "missing" | "not a regular file" | "too large" | "unreadable";

/** The text of `meta.json`, or why there is none (`problem` is a sentence for a quarantine reason). */
export type MetaReading =
  | { text: string }
  | { kind: MetaProblemKind; problem: string };

/** Options for {@linkcode readMeta}. */
export interface ReadMetaOptions {
  /** Size limit in bytes. @default {MAX_META_BYTES} */
  maxBytes?: number;
}

function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes % 1024 === 0
    ? `${bytes / 1024} KiB`
    : `${bytes} bytes`;
}

function tooLarge(size: number, limit: number): MetaReading {
  return {
    kind: "too large",
    problem: `meta.json is ${size} bytes, more than the ${sizeText(limit)} limit`,
  };
}

function unreadable(error: unknown): MetaReading {
  const why = error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : error instanceof Error
    ? error.message
    : String(error);
  return { kind: "unreadable", problem: `meta.json cannot be read: ${why}` };
}

function notRegular(info: Deno.FileInfo): MetaReading {
  const what = info.isSymlink ? "a symlink" : info.isDirectory ? "a directory" : "a special file";
  return { kind: "not a regular file", problem: `meta.json is ${what}, not a regular file` };
}

/**
 * Reads `<dir>/meta.json` without following a symlink and without reading more than the limit
 * (plus one byte, in case it grows while read). Never throws.
 */
export async function readMeta(dir: string, options: ReadMetaOptions = {}): Promise<MetaReading> {
  const limit = options.maxBytes ?? MAX_META_BYTES;
  const path = join(dir, META_FILE);
  let before: Deno.FileInfo;
  try {
    before = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { kind: "missing", problem: "meta.json is missing" };
    }
    return unreadable(error);
  }
  // Checked before open: opening a FIFO blocks, and open() follows symlinks.
  if (!before.isFile) return notRegular(before);
  if (before.size > limit) return tooLarge(before.size, limit);
  try {
    using file = await Deno.open(path, { read: true });
    const info = await file.stat();
    // A symlink or another file swapped in between lstat and open is a different inode.
    if (!info.isFile || info.ino !== before.ino || info.dev !== before.dev) {
      return {
        kind: "not a regular file",
        problem: "meta.json was replaced while being read",
      };
    }
    if (info.size > limit) return tooLarge(info.size, limit);
    const buffer = new Uint8Array(limit + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > limit) return tooLarge(filled, limit);
    return { text: new TextDecoder().decode(buffer.subarray(0, filled)) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { kind: "missing", problem: "meta.json is missing" };
    }
    return unreadable(error);
  }
}

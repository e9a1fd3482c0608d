/** Reads a small file as text through an {@linkcode Fs}, as `Deno.readTextFile` would. */
import type { Fs } from "./fs.ts";

/** Options for {@linkcode readText}. */
export interface ReadTextOptions {
  /**
   * Largest file read, in bytes (`Fs.readFile` throws a `RangeError` above it).
   * @default {Infinity: as Deno.readTextFile, which has no limit}
   */
  limit?: number;
}

/**
 * Lossy UTF-8, and a byte order mark kept as U+FEFF: exactly what `Deno.readTextFile` returns, so
 * moving a reader from Deno to an `Fs` changes nothing it parses.
 */
const DECODER = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The text of the file at `path`, read through `fs`.
 * @throws what `fs.readFile` throws (test a missing file with `isNotFound`)
 * @example
 * ```ts
 * import { readText } from "./read_text.ts";
 * import { denoFs } from "./fs.ts";
 * await readText(denoFs, "/etc/hostname");
 * ```
 */
export async function readText(
  fs: Fs,
  path: string,
  options: ReadTextOptions = {},
): Promise<string> {
  return DECODER.decode(await fs.readFile(path, options.limit ?? Infinity));
}

/** The names in one of the data layout's folders that can be episode directories. */
import { denoFs, type Fs, isNotFound } from "../fs/fs.ts";

/** Options for {@linkcode listEpisodeDirs}. */
export interface ListEpisodeDirsOptions {
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Directory names in `dir` that can be episodes: directories (not symlinks) whose names do not
 * start with "." (the shipper's own folders, such as `quarantine/.history`), sorted. One
 * directory listing: nothing below the entries is read. [] when `dir` does not exist.
 * @example
 * ```ts
 * import { listEpisodeDirs } from "./list_episode_dirs.ts";
 * await listEpisodeDirs("/nonexistent"); // []
 * ```
 */
export async function listEpisodeDirs(
  dir: string,
  options: ListEpisodeDirsOptions = {},
): Promise<string[]> {
  const fs = options.fs ?? denoFs;
  const out: string[] = [];
  try {
    for (const e of await fs.readDir(dir)) {
      if (e.isDirectory && !e.isSymlink && !e.name.startsWith(".")) out.push(e.name);
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return out.sort();
}

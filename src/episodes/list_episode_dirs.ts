/** The names in one of the data layout's folders that can be episode directories. */

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
export async function listEpisodeDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && !e.isSymlink && !e.name.startsWith(".")) out.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/** Lists `episodes/`: which entries are episode directories and which are complete. */
import { join } from "node:path";

/** The file a producer writes last, when an episode is complete. */
export const DONE_MARKER = "done.marker";

/** One directory under `episodes/`. */
export interface EpisodeDir {
  /** The directory name: the episode id if it is valid. */
  name: string;
  path: string;
  /** Whether `done.marker` exists. */
  complete: boolean;
  /** When `done.marker` was written (ms), for oldest-first order; 0 when incomplete. */
  completedAt: number;
}

/** Result of {@linkcode scanEpisodes}. */
export interface ScanResult {
  /** Complete episodes, oldest `done.marker` first, then by name. */
  complete: EpisodeDir[];
  /** Episodes still being written. */
  incomplete: EpisodeDir[];
  /** Entries that are not directories (files, symlinks): never followed, never shipped. */
  ignored: string[];
  /**
   * Directories whose names are not valid UTF-8, as Deno reports them (invalid bytes became
   * U+FFFD): no Deno file API can reach them by that name, so they can be neither shipped nor
   * moved; the operator must rename them.
   */
  unaddressable: string[];
}

/** Whether `name` came from a name that was not valid UTF-8 and cannot be used as a path. */
async function isUnaddressable(name: string, path: string): Promise<boolean> {
  if (!name.includes("\uFFFD")) return false;
  // A real U+FFFD (valid UTF-8 "ef bf bd") is an ordinary name that lstat finds.
  return (await Deno.lstat(path).then(() => false, (e) => e instanceof Deno.errors.NotFound));
}

/** Scans an `episodes/` directory. Symlinks are not followed. */
export async function scanEpisodes(episodesDir: string): Promise<ScanResult> {
  const result: ScanResult = { complete: [], incomplete: [], ignored: [], unaddressable: [] };
  for await (const entry of Deno.readDir(episodesDir)) {
    if (!entry.isDirectory || entry.isSymlink) {
      result.ignored.push(entry.name);
      continue;
    }
    const path = join(episodesDir, entry.name);
    if (await isUnaddressable(entry.name, path)) {
      result.unaddressable.push(entry.name);
      continue;
    }
    // A marker the shipper may not even look at (a producer's umask 077) is not "incomplete":
    // the episode goes on to the access check, which holds it with the fix.
    const marker = await Deno.lstat(join(path, DONE_MARKER)).catch((error) =>
      error instanceof Deno.errors.PermissionDenied ? { mtime: null } : null
    );
    const episode: EpisodeDir = {
      name: entry.name,
      path,
      complete: marker !== null,
      completedAt: marker?.mtime?.getTime() ?? 0,
    };
    (episode.complete ? result.complete : result.incomplete).push(episode);
  }
  result.complete.sort((a, b) =>
    a.completedAt - b.completedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  result.incomplete.sort((a, b) => (a.name < b.name ? -1 : 1));
  result.ignored.sort();
  result.unaddressable.sort();
  return result;
}

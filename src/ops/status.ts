/**
 * Reads the disk for `status`: which episode directories are where, inside a shared moves section
 * so no episode is seen in two places or none, then sizes and outbox states outside it.
 */
import { join } from "node:path";
import { DONE_MARKER } from "../episodes/scan.ts";
import { walkEpisode } from "../episodes/walk.ts";
import { type Layout, layoutOf, statePath, tarballPath } from "../queue/layout.ts";
import { lockHolder, withMovesLock } from "../queue/lock.ts";
import { readState } from "../queue/state.ts";
import { readDaemonStatus } from "../status/daemon_status.ts";
import type { EpisodeSnapshot, StatusSnapshot } from "../status/status.ts";
import { TEMP_SUFFIX } from "../fs/atomic.ts";

type Place = EpisodeSnapshot["place"];
interface Listed {
  name: string;
  place: Place;
  completedAt: number | null;
}

/** Directory names in `dir` that can be episodes: directories, not starting with ".". */
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

async function listOnce(layout: Layout): Promise<Listed[]> {
  const listed: Listed[] = [];
  for (const name of await listEpisodeDirs(layout.episodes)) {
    const marker = await Deno.lstat(join(layout.episodes, name, DONE_MARKER)).catch(() => null);
    listed.push({ name, place: "episodes", completedAt: marker?.mtime?.getTime() ?? null });
  }
  for (const place of ["shipped", "quarantine"] as const) {
    for (const name of await listEpisodeDirs(layout[place])) {
      listed.push({ name, place, completedAt: null });
    }
  }
  return listed;
}

const key = (l: Listed[]) => l.map((e) => `${e.place}/${e.name}/${e.completedAt}`).join("\n");

/**
 * Lists every episode directory. Inside a shared moves section the listing is consistent with
 * every mover that takes the section; it is also repeated until two listings agree, so a mover
 * that does not take the section cannot make an episode appear twice or vanish.
 */
async function listConsistently(layout: Layout): Promise<Listed[]> {
  let previous = await listOnce(layout);
  for (let i = 0; i < 5; i++) {
    const current = await listOnce(layout);
    if (key(current) === key(previous)) return current;
    previous = current;
  }
  return previous;
}

function bytesOf(path: string): number {
  try {
    return walkEpisode(path).totalBytes;
  } catch {
    // Moved or removed since it was listed: its count stands, its bytes are unknown.
    return 0;
  }
}

async function outboxTarballBytes(layout: Layout): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(layout.outbox)) {
      if (!e.isFile || e.name.endsWith(TEMP_SUFFIX) || e.name.endsWith(".json")) continue;
      total += (await Deno.lstat(join(layout.outbox, e.name)).catch(() => null))?.size ?? 0;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

/** Reads everything `status` reports about a data root. */
export async function readStatusSnapshot(
  dataRoot: string,
  hostId: string,
): Promise<StatusSnapshot> {
  const layout = layoutOf(dataRoot);
  const { listed, holder } = await withMovesLock(dataRoot, async () => ({
    listed: await listConsistently(layout),
    holder: await lockHolder(dataRoot),
  }), { shared: true });
  const episodes: EpisodeSnapshot[] = [];
  for (const l of listed) {
    const dir = join(l.place === "episodes" ? layout.episodes : layout[l.place], l.name);
    const episode: EpisodeSnapshot = {
      name: l.name,
      place: l.place,
      complete: l.completedAt !== null,
      completedAt: l.completedAt,
      bytes: bytesOf(dir),
      outbox: null,
      packed: false,
    };
    if (l.place === "episodes" && l.completedAt !== null) {
      // A state that cannot be read (a directory in its place, EIO) is reported as no state:
      // status describes the disk, it never fails on one bad entry.
      const state = await readState(statePath(layout, l.name)).catch(() => null);
      if (state) {
        episode.outbox = {
          attempts: state.attempts,
          nextAttemptAt: state.next_attempt_at ? Date.parse(state.next_attempt_at) : null,
          lastError: state.last_error,
        };
        const tarball = state.packed
          ? await Deno.lstat(tarballPath(layout, l.name, state.packed.compression))
            .catch(() => null)
          : null;
        episode.packed = tarball !== null && tarball.size === state.packed?.size;
      }
    }
    episodes.push(episode);
  }
  return {
    dataRoot,
    hostId,
    episodes,
    outboxBytes: await outboxTarballBytes(layout),
    holder,
    daemon: await readDaemonStatus(dataRoot),
  };
}

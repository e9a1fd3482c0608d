/**
 * Coordination between the processes that work on one `data_root`, all with `flock(2)`, which the
 * kernel drops when a process dies, even by SIGKILL:
 *
 * - `.cis490-ship.lock`: held exclusively by the one shipper (daemon or `--once`) for its life.
 * - `.cis490-ship.moves.lock`: a short section. Every move of an episode between `episodes/`,
 *   `shipped/` and `quarantine/` happens inside an exclusive section; `status` lists inside a
 *   shared one, so it never sees an episode in two places or in none.
 *
 * The shipper takes its lock and writes its pid inside an exclusive moves section, and a second
 * shipper reads the pid inside one too, so it always finds the holder's pid written: without the
 * section, a racing reader sometimes read the file between the holder's lock and its write.
 *
 * Only `data_root`'s owner creates these files ({@linkcode requireOwner} runs before every
 * exclusive section and the shipper's lock): a lock file `sudo` created belonged to root, and the
 * service, unable to open it for writing, failed at every start. A shared section (a reader:
 * `status`) never creates one, so it also works on a read-only mount.
 */
import { OWN } from "../layout.ts";
import { requireOwner } from "../fs/owner.ts";
import { join } from "node:path";
import type { Layout } from "./layout.ts";

/** Name of the shipper's lock file under `data_root`. */
export const LOCK_FILE: string = OWN.lock;
/** Name of the moves lock file under `data_root`. */
export const MOVES_LOCK_FILE: string = OWN.movesLock;

/** Another process holds the data root. */
export class LockHeldError extends Error {
  constructor(readonly pid: number | null, readonly dataRoot: string) {
    super(`another cis490-ship (pid ${pid ?? "unknown"}) holds ${dataRoot}`);
    this.name = "LockHeldError";
  }
}

/** A held lock; closing the file releases it. */
export interface DataRootLock {
  release(): void;
}

/** Options for {@linkcode withMovesLock}. */
export interface MovesLockOptions {
  /** Take the section shared (readers) instead of exclusive (movers). @default {false} */
  shared?: boolean;
}

function dataRootOf(target: Layout | string): string {
  return typeof target === "string" ? target : target.dataRoot;
}

/** Path of the moves lock of a data root. */
export function movesLockPath(target: Layout | string): string {
  return join(dataRootOf(target), MOVES_LOCK_FILE);
}

/**
 * Opens the moves lock: a writer creates it when missing; a reader only opens what exists (read
 * access is enough for flock(2)) and gets null when there is none.
 */
function openLockFile(path: string, write: boolean): Deno.FsFile | null {
  if (write) return Deno.openSync(path, { read: true, write: true, create: true, mode: 0o640 });
  try {
    return Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Runs `fn` inside a moves section of the data root: exclusive by default (waits for every other
 * section to end), or shared. Sections of one process nest only when all are shared.
 * @throws {NotOwnerError} for an exclusive section, when the caller does not own the data root
 */
export async function withMovesLock<T>(
  target: Layout | string,
  fn: () => Promise<T> | T,
  options: MovesLockOptions = {},
): Promise<T> {
  const shared = options.shared ?? false;
  if (!shared) await requireOwner(dataRootOf(target));
  const file = openLockFile(movesLockPath(target), !shared);
  // No lock file: no mover has run yet, and a mover that starts now is seen by the reader's
  // own consistency check (listing twice).
  if (file === null) return await fn();
  try {
    await file.lock(!shared);
    return await fn();
  } finally {
    file.close();
  }
}

function parsePid(text: string): number | null {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Takes the shipper's exclusive lock on `lockFile` without waiting and writes our pid into it,
 * inside a moves section of `dataRoot`.
 * @throws {LockHeldError} when another process holds it, naming its pid.
 * @throws {NotOwnerError} when the caller does not own the data root
 */
export async function lockDataRoot(lockFile: string, dataRoot: string): Promise<DataRootLock> {
  return await withMovesLock(dataRoot, async () => {
    const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o640 });
    if (!(await file.tryLock(true))) {
      file.close();
      const text = await Deno.readTextFile(lockFile).catch(() => "");
      throw new LockHeldError(parsePid(text), dataRoot);
    }
    try {
      await file.truncate(0);
      const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
    } catch (error) {
      file.close();
      throw error;
    }
    return { release: () => file.close() };
  });
}

/**
 * The pid of the shipper holding the data root, or null when none does. Call it inside a moves
 * section (shared is enough): a shipper starting at that moment waits for the section, so the
 * probe's brief shared lock never makes it fail.
 */
export async function lockHolder(dataRoot: string): Promise<{ pid: number | null } | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(join(dataRoot, LOCK_FILE), { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    if (await file.tryLock(false)) return null;
  } finally {
    file.close();
  }
  return { pid: parsePid(await Deno.readTextFile(join(dataRoot, LOCK_FILE)).catch(() => "")) };
}

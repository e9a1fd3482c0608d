/**
 * The file system operations the queue performs, behind one interface: production uses Deno's
 * (`denoFs`); the queue simulator uses an in-memory file system that can fail any operation,
 * crash the process at any operation, and drop what was not fsynced on a power loss.
 *
 * Errors carry a POSIX `code` (`ENOENT`, `EEXIST`, `ENOTEMPTY`, `ENOSPC`, `EIO`, `EACCES`,
 * `EXDEV`, …), as Deno's own errors do; test them with {@linkcode errorCode}.
 *
 * @example
 * ```ts
 * import { denoFs, errorCode } from "./fs.ts";
 * const info = await denoFs.lstat("/tmp");
 * const missing = await denoFs.readFile("/nonexistent").catch((e) => errorCode(e));
 * ```
 */

/** What {@linkcode Fs.lstat} tells about a path (never following a symlink). */
export interface FileStat {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  size: number;
  /** ms since the epoch, or null when the platform does not say. */
  mtime: number | null;
  ctime: number | null;
  ino: number | null;
}

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

/** Options for {@linkcode Fs.writeNew}. */
export interface WriteNewOptions {
  /** Mode of the new file. */
  mode: number;
  /** fsync the file's data before returning. */
  sync: boolean;
}

/** The file system, as the queue uses it. */
export interface Fs {
  /** Lists a directory. */
  readDir(path: string): Promise<DirEntry[]>;
  /** Stats a path without following a final symlink; null when it does not exist. */
  lstat(path: string): Promise<FileStat | null>;
  /** Reads a whole regular file of at most `limit` bytes. @throws {RangeError} when larger */
  readFile(path: string, limit: number): Promise<Uint8Array>;
  /** Creates `path` (it must not exist), writes `data`, optionally fsyncs it. */
  writeNew(path: string, data: Uint8Array, options: WriteNewOptions): Promise<void>;
  /** `rename(2)`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file, or a directory with everything in it when `recursive`. */
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Creates a directory (and its parents when `recursive`). */
  mkdir(path: string, options: { recursive: boolean; mode: number }): Promise<void>;
  /** fsyncs a directory so the creates, renames and removes inside it are durable. */
  syncDir(path: string): Promise<void>;
  /** fsyncs a file's data. */
  syncFile(path: string): Promise<void>;
  /** Sets a file's mode exactly, whatever the umask. */
  chmod(path: string, mode: number): Promise<void>;
}

/** The POSIX code of a file system error (`ENOENT`, …), or null when it carries none. */
export function errorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  if (error instanceof Deno.errors.NotFound) return "ENOENT";
  if (error instanceof Deno.errors.AlreadyExists) return "EEXIST";
  if (error instanceof Deno.errors.PermissionDenied) return "EACCES";
  return null;
}

/** Whether `error` says the path does not exist. */
export function isNotFound(error: unknown): boolean {
  return errorCode(error) === "ENOENT";
}

function statOf(info: Deno.FileInfo): FileStat {
  return {
    isFile: info.isFile,
    isDirectory: info.isDirectory,
    isSymlink: info.isSymlink,
    size: info.size,
    mtime: info.mtime?.getTime() ?? null,
    ctime: info.ctime?.getTime() ?? null,
    ino: info.ino,
  };
}

/** Runs a synchronous call as the interface's promise (its error as a rejection). */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Open directory handles kept for fsync, by path: opening a directory for every sync cost one
 * async open (60–77 µs in Deno) per state written. A handle is used only while it is still the
 * directory at that path (same device and inode; the open handle keeps its inode from being reused),
 * so a directory replaced under it is opened afresh.
 */
const dirHandles = new Map<string, { file: Deno.FsFile; id: string }>();

async function syncDirectory(path: string): Promise<void> {
  const info = Deno.statSync(path);
  const id = `${info.dev}:${info.ino}`;
  let held = dirHandles.get(path);
  if (held && held.id !== id) {
    held.file.close();
    dirHandles.delete(path);
    held = undefined;
  }
  if (!held) {
    if (dirHandles.size >= 16) {
      for (const h of dirHandles.values()) h.file.close();
      dirHandles.clear();
    }
    held = { file: Deno.openSync(path, { read: true }), id };
    dirHandles.set(path, held);
  }
  await held.file.sync();
}

async function syncPath(path: string): Promise<void> {
  using handle = Deno.openSync(path, { read: true });
  await handle.sync();
}

/**
 * The real file system. Metadata calls are synchronous underneath (an async file op costs 60–77
 * µs in Deno against 2–3 µs for its sync twin, and a pass makes dozens per episode); only the
 * fsyncs, which may wait on the disk, stay asynchronous.
 */
export const denoFs: Fs = {
  readDir(path) {
    return now(() =>
      Array.from(Deno.readDirSync(path), (e) => ({
        name: e.name,
        isFile: e.isFile,
        isDirectory: e.isDirectory,
        isSymlink: e.isSymlink,
      }))
    );
  },
  lstat(path) {
    return now(() => {
      try {
        return statOf(Deno.lstatSync(path));
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
  },
  readFile(path, limit) {
    return now(() => {
      using file = Deno.openSync(path, { read: true });
      const info = file.statSync();
      if (!info.isFile) throw new TypeError(`Cannot read "${path}": not a regular file`);
      const buffer = new Uint8Array(Math.min(limit, info.size) + 1);
      let filled = 0;
      while (filled < buffer.length) {
        const n = file.readSync(buffer.subarray(filled));
        if (n === null || n === 0) break;
        filled += n;
      }
      if (filled > limit) {
        throw new RangeError(`Cannot read "${path}": larger than ${limit} bytes`);
      }
      return buffer.subarray(0, filled);
    });
  },
  async writeNew(path, data, options) {
    using file = Deno.openSync(path, { write: true, createNew: true, mode: options.mode });
    for (let offset = 0; offset < data.length;) offset += file.writeSync(data.subarray(offset));
    if (options.sync) await file.sync();
  },
  rename: (from, to) => now(() => Deno.renameSync(from, to)),
  remove: (path, options) =>
    now(() => Deno.removeSync(path, { recursive: options?.recursive ?? false })),
  mkdir: (path, options) => now(() => Deno.mkdirSync(path, options)),
  syncDir: syncDirectory,
  syncFile: syncPath,
  chmod: (path, mode) => now(() => Deno.chmodSync(path, mode)),
};

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

async function syncPath(path: string): Promise<void> {
  const handle = await Deno.open(path, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** The real file system. */
export const denoFs: Fs = {
  async readDir(path) {
    const entries: DirEntry[] = [];
    for await (const e of Deno.readDir(path)) {
      entries.push({
        name: e.name,
        isFile: e.isFile,
        isDirectory: e.isDirectory,
        isSymlink: e.isSymlink,
      });
    }
    return entries;
  },
  async lstat(path) {
    try {
      return statOf(await Deno.lstat(path));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  },
  async readFile(path, limit) {
    // Opened without following a symlink's target kind check: callers read their own files.
    using file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) throw new TypeError(`Cannot read "${path}": not a regular file`);
    const buffer = new Uint8Array(Math.min(limit, info.size) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > limit) throw new RangeError(`Cannot read "${path}": larger than ${limit} bytes`);
    return buffer.subarray(0, filled);
  },
  async writeNew(path, data, options) {
    using file = await Deno.open(path, { write: true, createNew: true, mode: options.mode });
    for (let offset = 0; offset < data.length;) offset += await file.write(data.subarray(offset));
    if (options.sync) await file.sync();
  },
  rename: (from, to) => Deno.rename(from, to),
  remove: (path, options) => Deno.remove(path, { recursive: options?.recursive ?? false }),
  mkdir: (path, options) => Deno.mkdir(path, options),
  syncDir: syncPath,
  syncFile: syncPath,
  chmod: (path, mode) => Deno.chmod(path, mode),
};

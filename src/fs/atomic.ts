/**
 * Crash-safe file system moves: write to a temporary name, fsync, rename, fsync the directory.
 * A `kill -9` at any instant leaves either the old state or the new one, never a torn file.
 */
import { basename, dirname, join } from "node:path";
import { denoFs, errorCode, type Fs, isNotFound } from "./fs.ts";

/** Suffix of every temporary file this program writes; leftovers are removed at start. */
export const TEMP_SUFFIX = ".partial";

/**
 * A fresh temporary name for `path`, in `dir` (default: beside it), ending in
 * {@linkcode TEMP_SUFFIX} so crash recovery recognises it.
 */
export function tempPathFor(path: string, dir: string = dirname(path)): string {
  return join(dir, `${basename(path)}.${crypto.randomUUID().slice(0, 8)}${TEMP_SUFFIX}`);
}

/** Mode of every file the shipper writes under `data_root`: owner read-write, group read. */
export const FILE_MODE = 0o640;

/** fsyncs a directory so a rename or create inside it is durable. */
export function fsyncDir(dir: string, fs: Fs = denoFs): Promise<void> {
  return fs.syncDir(dir);
}

/** Writes all of `bytes` to `file` (one write may take fewer). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
}

/**
 * How durable a write is. `full`: the file and its directory are fsynced (survives power loss).
 * `file`: the file only; the caller fsyncs the directory once for several renames. `process`: no
 * fsync: the rename is still atomic and survives the process being killed (the kernel keeps the
 * page cache), but not a power loss.
 */
export type Durability = "full" | "file" | "process";

/** Options for {@linkcode writeFileAtomic} and {@linkcode writeJsonAtomic}. */
export interface AtomicWriteOptions {
  /**
   * Where the temporary file goes (same file system), when leftovers must not appear beside
   * `path`. @default {the directory of path}
   */
  tempDir?: string;
  /** @default {"full"} */
  durability?: Durability;
  /**
   * The file's exact mode, whatever the umask (a file another service must read).
   * @default {FILE_MODE, less the umask}
   */
  mode?: number;
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Writes `data` to `path` atomically (and, by default, durably). A failure at any step removes
 * the temporary file: a write that fails every pass must not leave one behind each time.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const fs = options.fs ?? denoFs;
  const tempDir = options.tempDir ?? dirname(path);
  const durability = options.durability ?? "full";
  const temp = tempPathFor(path, tempDir);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    // Nothing the shipper writes is world-readable (README, "Where episodes go"); the service group may read.
    await fs.writeNew(temp, bytes, { mode: FILE_MODE, sync: durability !== "process" });
    if (options.mode !== undefined) await fs.chmod(temp, options.mode);
    await fs.rename(temp, path);
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw error;
  }
  if (durability !== "full") return;
  await fs.syncDir(dirname(path));
  if (tempDir !== dirname(path)) await fs.syncDir(tempDir);
}

/** Writes JSON (two-space indent, trailing newline) atomically; as for writeFileAtomic. */
export function writeJsonAtomic(
  path: string,
  value: unknown,
  options: AtomicWriteOptions = {},
): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", options);
}

/** Removes a file if present, then fsyncs its directory. */
export async function removeDurably(path: string, fs: Fs = denoFs): Promise<void> {
  try {
    await fs.remove(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return;
  }
  await fs.syncDir(dirname(path));
}

const NAME_MAX = 255;

function candidateName(name: string, n: number): string {
  if (n === 1) return name;
  const suffix = `.${n}`;
  return name.slice(0, NAME_MAX - suffix.length) + suffix;
}

/** Whether a rename failed because the destination name is taken by something with content. */
async function isOccupied(error: unknown, dest: string, fs: Fs): Promise<boolean> {
  const code = errorCode(error);
  if (code === "ENOTEMPTY" || code === "EEXIST") return true;
  // ENOTDIR also comes from a destination directory that is not one: only a taken name counts.
  if (code === "ENOTDIR") return (await fs.lstat(dest).catch(() => null)) !== null;
  return false;
}

/** Options for {@linkcode moveDirNoClobber}. */
export interface MoveOptions {
  /**
   * Collects the directories to fsync instead of syncing them at once, so a pass can sync each
   * directory once for all its moves. @default {undefined: sync now}
   */
  syncLater?: Set<string>;
  /** @default {denoFs} */
  fs?: Fs;
}

/**
 * Moves directory `source` into `destDir` under its own name, or `<name>.2`, `<name>.3`, … when
 * that is taken: never overwrites. One `rename(2)`, which refuses to replace a non-empty directory
 * or a file, so two movers racing for a name cannot both win and nothing is lost. (It may replace
 * an empty directory, which holds nothing.) Returns the destination path.
 */
export async function moveDirNoClobber(
  source: string,
  destDir: string,
  options: MoveOptions = {},
): Promise<string> {
  // Names starting with "." are reserved for the shipper's own folders (quarantine/.history):
  // an entry named so (an invalid episode id) moves under a visible name instead.
  const fs = options.fs ?? denoFs;
  const name = basename(source).replace(/^\./, "_.");
  for (let n = 1;; n++) {
    const dest = join(destDir, candidateName(name, n));
    try {
      await fs.rename(source, dest);
    } catch (error) {
      if (await isOccupied(error, dest, fs)) continue;
      throw error;
    }
    if (options.syncLater) {
      options.syncLater.add(destDir).add(dirname(source));
    } else {
      await fs.syncDir(destDir);
      await fs.syncDir(dirname(source));
    }
    return dest;
  }
}

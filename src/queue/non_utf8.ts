/**
 * Episode directories whose names are not valid UTF-8. Deno's file APIs (and `node:fs` with
 * Buffer paths) only see a lossy name that cannot be opened or renamed, so such a directory is
 * found by inode with find(1), which passes the real bytes to mv(1): the one program the shipper
 * runs (`--allow-run=/usr/bin/find`). It goes to `quarantine/nonutf8-<hex of its name>` once complete.
 */
import { join } from "node:path";

/** One directory entry as find(1) printed it: inode and the name's raw bytes. */
export interface RawEntry {
  ino: string;
  name: Uint8Array;
}

const strict = new TextDecoder("utf-8", { fatal: true });

/** Whether `bytes` are valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Parses `find … -printf '%i %f\0'` output. Pure. */
export function parseFindOutput(out: Uint8Array): RawEntry[] {
  const entries: RawEntry[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== 0) continue;
    const record = out.subarray(start, i);
    start = i + 1;
    const space = record.indexOf(0x20);
    if (space <= 0) continue;
    const ino = new TextDecoder().decode(record.subarray(0, space));
    if (/^\d+$/.test(ino)) entries.push({ ino, name: record.slice(space + 1) });
  }
  return entries;
}

/** The quarantine name of a non-UTF-8 directory: `nonutf8-` and the name's hex, id-sized. Pure. */
export function quarantineNameFor(name: Uint8Array): string {
  const hex = Array.from(name, (b) => b.toString(16).padStart(2, "0")).join("");
  return `nonutf8-${hex}`.slice(0, 200);
}

/** find(1) by absolute path: the service may run with no PATH, and the permission names it. */
export const FIND = "/usr/bin/find";

async function find(args: string[]): Promise<Uint8Array> {
  // LC_ALL=C: byte-wise names, and mv/test run by find need no locale to handle them.
  const out = await new Deno.Command(FIND, {
    args,
    env: { LC_ALL: "C", PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new Error(`find failed: ${why || `exit ${out.code}`}`);
  }
  return out.stdout;
}

/** find(1) arguments selecting the directories directly in `dir`. */
function childDirs(dir: string): string[] {
  return [dir, "-mindepth", "1", "-maxdepth", "1", "-type", "d"];
}

/** The directories directly in `dir` whose names are not valid UTF-8. */
export async function listNonUtf8Dirs(dir: string): Promise<RawEntry[]> {
  const out = await find([
    ...childDirs(dir),
    "-printf",
    "%i %f\\0",
  ]);
  return parseFindOutput(out).filter((e) => !isUtf8(e.name));
}

/**
 * Moves the directory with inode `ino` in `dir` to `dest` (a new name), only if it holds
 * `marker` (the episode is complete) and `dest` does not exist (`mv -n`). Returns whether it moved.
 */
export async function moveCompleteByInode(
  dir: string,
  ino: string,
  marker: string,
  dest: string,
): Promise<boolean> {
  await find([
    ...childDirs(dir),
    "-inum",
    ino,
    "-exec",
    "test",
    "-f",
    `{}/${marker}`,
    ";",
    "-exec",
    "mv",
    "-n",
    "-T",
    "--",
    "{}",
    dest,
    ";",
  ]);
  const moved = await Deno.lstat(dest).catch(() => null);
  return moved?.isDirectory === true && String(moved.ino) === ino;
}

/** `quarantine/<name>`, `<name>.2`, … : the first candidate not taken. */
export async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 1;; n++) {
    const candidate = join(dir, n === 1 ? name : `${name}.${n}`);
    if ((await Deno.lstat(candidate).catch(() => null)) === null) return candidate;
  }
}

/**
 * Lists an episode's tree in the order it is packed: depth first, siblings sorted by name.
 * Uses synchronous calls: for thousands of small files they are several times faster in Deno than
 * one async op each, and a walk is short.
 */
import { join } from "node:path";

/** One entry of an episode tree. */
export interface TreeEntry {
  /** Path relative to the episode directory, `/`-separated; "" is the episode directory. */
  relPath: string;
  kind: "file" | "directory" | "symlink" | "other";
  /** Bytes, for files; 0 otherwise. */
  size: number;
  /** Permission bits. */
  mode: number;
  /** Modification time, whole seconds. */
  mtimeS: number;
  /** Target of a symlink, never followed. */
  linkTarget?: string;
}

/** The listed tree and its total file bytes. */
export interface Tree {
  entries: TreeEntry[];
  totalBytes: number;
}

function entryOf(path: string, relPath: string): TreeEntry {
  const info = Deno.lstatSync(path);
  const kind = info.isFile
    ? "file"
    : info.isDirectory
    ? "directory"
    : info.isSymlink
    ? "symlink"
    : "other";
  const entry: TreeEntry = {
    relPath,
    kind,
    size: kind === "file" ? info.size : 0,
    mode: (info.mode ?? 0o644) & 0o7777,
    mtimeS: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
  };
  if (kind === "symlink") entry.linkTarget = Deno.readLinkSync(path);
  return entry;
}

/** Walks an episode directory without following symlinks. */
export function walkEpisode(dir: string): Tree {
  const entries: TreeEntry[] = [];
  let totalBytes = 0;
  const visit = (path: string, relPath: string) => {
    const entry = entryOf(path, relPath);
    entries.push(entry);
    totalBytes += entry.size;
    if (entry.kind !== "directory") return;
    const names = [...Deno.readDirSync(path)].map((e) => e.name).sort();
    for (const name of names) visit(join(path, name), relPath ? `${relPath}/${name}` : name);
  };
  visit(dir, "");
  return { entries, totalBytes };
}

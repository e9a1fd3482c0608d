/**
 * Can the shipper read every file of an episode and move its directory out of `episodes/`? Asked
 * before anything is uploaded, so that an episode is never sent and then stuck (a producer's umask
 * 022 leaves the directory 0755: readable, but `rename(2)` into another folder needs write
 * permission on the directory itself, to rewrite its `..`), and never silently skipped (umask 077
 * leaves files nobody else can read).
 *
 * Correct, not estimated: find(1) (the one program the binary may run) asks the kernel with
 * `faccessat2()` (`-readable`, `-writable`, `-executable`), which applies ACLs (where the mode's
 * group bits are only the mask), root's capabilities and read-only mounts exactly as `open(2)`
 * and `rename(2)` will. Measured: `node:fs` `accessSync()` in Deno compares mode bits with
 * `Deno.uid()`, which needs `--allow-sys` and ignores ACLs and supplementary groups; stat and our
 * ids would have to read ACLs, which no Deno API can. What `faccessat2()` does not cover is the
 * sticky bit of `episodes/` (only the owner of the episode or of the folder may move it), checked
 * from stat. Not covered: `chattr +i`, which no ordinary setup uses.
 */
import { dirname } from "node:path";
import type { Layout } from "../layout.ts";
import { accountName, type Identity, processIdentity } from "../fs/identity.ts";
import { FIND } from "../queue/non_utf8.ts";

/** What stops the shipper from handling an episode, and what fixes it. */
export interface AccessProblem {
  /** The first path at fault. */
  path: string;
  /** One sentence: what the shipper cannot do there. */
  problem: string;
  /** One sentence: the command that fixes it. */
  fix: string;
}

/** A path find(1) flagged, and why. */
interface Flagged {
  kind: "parent" | "dir" | "file";
  path: string;
}

/** Runs find(1); returns the NUL-separated records it printed and its first error line. */
async function find(args: string[]): Promise<{ records: string[]; error: string | null }> {
  const out = await new Deno.Command(FIND, {
    args,
    env: { LC_ALL: "C" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const records = text.split("\0").filter((r) => r !== "");
  const error = out.success ? null : new TextDecoder().decode(out.stderr).split("\n")[0] ?? "";
  return { records, error };
}

/** Who we are, for the messages: `cis490 (uid 999)` and the ids the fixes name. */
interface Us {
  id: Identity | null;
  user: string;
  group: string;
  label: string;
}

async function whoWeAre(): Promise<Us> {
  const id = await processIdentity();
  if (id === null) return { id, user: "<service user>", group: "<service group>", label: "us" };
  const user = (await accountName(id.uid)) ?? String(id.uid);
  const group = (await accountName(id.gid, { database: "group" })) ?? String(id.gid);
  return { id, user, group, label: `${user} (uid ${id.uid})` };
}

/** The folders an episode leaves and enters: those that exist, else where they will be made. */
async function parentsOf(layout: Layout): Promise<string[]> {
  const out = [layout.episodes];
  for (const dir of [layout.shipped, layout.quarantine]) {
    const exists = await Deno.stat(dir).then((s) => s.isDirectory, () => false);
    out.push(exists ? dir : layout.dataRoot);
  }
  return [...new Set(out)];
}

/** The sentence for one flagged path. Pure. */
export function describeProblem(
  flagged: Flagged,
  more: number,
  episodeDir: string,
  us: Omit<Us, "id">,
): AccessProblem {
  const also = more > 0 ? `, and ${more} more path${more === 1 ? "" : "s"} in the episode` : "";
  const episodeFix =
    `sudo setfacl -R -m u:${us.user}:rwX "${episodeDir}" (or: sudo chgrp -R ${us.group} "${episodeDir}" && sudo chmod -R g+rwX "${episodeDir}"); new episodes get this from the default ACL install.sh puts on episodes/`;
  switch (flagged.kind) {
    case "parent":
      return {
        path: flagged.path,
        problem:
          `"${flagged.path}" is not writable and searchable by ${us.label}: no episode can move out of or into it`,
        fix:
          `run install.sh again, or: sudo chown ${us.user}:${us.group} "${flagged.path}" && sudo chmod u+rwx "${flagged.path}"`,
      };
    case "dir":
      return {
        path: flagged.path,
        problem: flagged.path === episodeDir
          ? `"${flagged.path}" is not readable, writable and searchable by ${us.label}; moving a directory into shipped/ or quarantine/ rewrites its ".." entry, which needs write permission on it${also}`
          : `directory "${flagged.path}" is not readable and searchable by ${us.label}${also}`,
        fix: episodeFix,
      };
    case "file":
      return {
        path: flagged.path,
        problem: `"${flagged.path}" is not readable by ${us.label}${also}`,
        fix: episodeFix,
      };
  }
}

/**
 * Whether this process can read every file of the episode at `episodeDir` and rename the
 * directory into `shipped/` or `quarantine/` of `layout`: null when it can, else the first thing
 * in the way and the command that fixes it. Symlinks (stored as links, never followed) and
 * special files (skipped by the packer) need nothing.
 * @throws {Error} when find(1) fails for another reason (the episode vanished meanwhile)
 *
 * @example
 * ```ts
 * import { accessProblem } from "./access.ts";
 * import { layoutOf } from "../layout.ts";
 * const layout = layoutOf("/var/lib/cis490/data");
 * const problem = await accessProblem(`${layout.episodes}/ep-0042`, layout);
 * if (problem) console.error(`${problem.problem}; fix: ${problem.fix}`);
 * ```
 */
export async function accessProblem(
  episodeDir: string,
  layout: Layout,
): Promise<AccessProblem | null> {
  const us = await whoWeAre();
  const parents = await find([
    "-H",
    ...await parentsOf(layout),
    "-maxdepth",
    "0",
    "(",
    "!",
    "-writable",
    "-o",
    "!",
    "-executable",
    ")",
    "-printf",
    "%p\\0",
  ]);
  if (parents.records[0] !== undefined) {
    return describeProblem({ kind: "parent", path: parents.records[0] }, 0, episodeDir, us);
  }
  if (parents.error !== null) {
    throw new Error(`Cannot check "${dirname(episodeDir)}": ${parents.error}`);
  }
  const sticky = await stickyProblem(episodeDir, layout, us);
  if (sticky) return sticky;
  // The episode directory needs write (its ".." moves); every directory read and search (the
  // walk); every regular file read. An unreadable directory is pruned: nothing below it can be
  // seen, and find would only complain.
  const walk = await find([
    episodeDir,
    "(",
    "-type",
    "d",
    "(",
    "!",
    "-readable",
    "-o",
    "!",
    "-executable",
    "-o",
    "-path",
    globQuote(episodeDir),
    "!",
    "-writable",
    ")",
    "-printf",
    "d%p\\0",
    "-prune",
    ")",
    "-o",
    "(",
    "-type",
    "f",
    "!",
    "-readable",
    "-printf",
    "f%p\\0",
    ")",
  ]);
  const first = walk.records[0];
  if (first !== undefined) {
    const flagged: Flagged = { kind: first[0] === "d" ? "dir" : "file", path: first.slice(1) };
    return describeProblem(flagged, walk.records.length - 1, episodeDir, us);
  }
  if (walk.error !== null) throw new Error(`Cannot check "${episodeDir}": ${walk.error}`);
  return null;
}

/** `path` as a find(1) `-path` pattern that matches only itself. Pure. */
export function globQuote(path: string): string {
  return path.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** `episodes/` with the sticky bit lets only the owner of an episode (or of the folder) move it. */
async function stickyProblem(
  episodeDir: string,
  layout: Layout,
  us: Us,
): Promise<AccessProblem | null> {
  if (us.id === null || us.id.uid === 0) return null;
  const folder = await Deno.stat(layout.episodes);
  if (((folder.mode ?? 0) & 0o1000) === 0 || folder.uid === us.id.uid) return null;
  const episode = await Deno.stat(episodeDir);
  if (episode.uid === us.id.uid) return null;
  return {
    path: layout.episodes,
    problem:
      `"${layout.episodes}" has the sticky bit, so ${us.label} may only move episodes it owns, and it does not own "${episodeDir}"`,
    fix: `sudo chmod -t "${layout.episodes}" (install.sh makes it 2770)`,
  };
}

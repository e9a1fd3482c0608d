/** The shipper's version, and the line `--version` prints. */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { BUILD, type BuildInfo } from "./build_info.ts";

/** The shipper's version: sent in User-Agent, stamped in quarantine reasons, printed by `--version`. */
export const VERSION = "0.2.0";

/** Where the commit in the version line came from. */
export type CommitSource =
  | { kind: "build"; info: BuildInfo }
  | { kind: "source"; commit: string | null };

/** Formats the `--version` line (pure). */
export function formatVersionLine(version: string, source: CommitSource): string {
  if (source.kind === "build") {
    const { commit, modified } = source.info;
    if (commit === null) return `cis490-ship ${version} (commit unknown: built outside git)`;
    return `cis490-ship ${version} (commit ${commit.slice(0, 12)}${modified ? ", modified" : ""})`;
  }
  return source.commit === null
    ? `cis490-ship ${version} (commit unknown: run from source)`
    : `cis490-ship ${version} (commit ${source.commit.slice(0, 12)}, run from source)`;
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * The commit checked out in the git directory `gitDir`, read from its files (no `git` process:
 * the binary's permissions have no `--allow-run`); null when it cannot be told.
 */
export function readGitCommit(gitDir: string): string | null {
  try {
    let dir = gitDir;
    const info = Deno.statSync(dir);
    if (info.isFile) {
      // A worktree or submodule: `.git` is a file naming the real git directory.
      const target = Deno.readTextFileSync(dir).match(/^gitdir: (.+)$/m)?.[1]?.trim();
      if (!target) return null;
      dir = target.startsWith("/") ? target : join(gitDir, "..", target);
    }
    const head = Deno.readTextFileSync(join(dir, "HEAD")).trim();
    if (HEX40.test(head)) return head;
    const ref = head.match(/^ref: (.+)$/)?.[1];
    if (!ref) return null;
    const common = readCommonDir(dir);
    for (const base of [dir, common]) {
      const loose = readOptional(join(base, ref))?.trim();
      if (loose && HEX40.test(loose)) return loose;
    }
    const packed = readOptional(join(common, "packed-refs")) ?? "";
    for (const line of packed.split("\n")) {
      const [hash, name] = line.split(" ");
      if (name === ref && hash && HEX40.test(hash)) return hash;
    }
    return null;
  } catch {
    return null;
  }
}

function readCommonDir(dir: string): string {
  const common = readOptional(join(dir, "commondir"))?.trim();
  if (!common) return dir;
  return common.startsWith("/") ? common : join(dir, common);
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Where the commit comes from in this process: the build's stamp, else the source checkout. */
export function commitSource(build: BuildInfo | undefined = BUILD): CommitSource {
  if (build) return { kind: "build", info: build };
  const url = new URL("../.git", import.meta.url);
  return {
    kind: "source",
    commit: url.protocol === "file:" ? readGitCommit(fileURLToPath(url)) : null,
  };
}

/** The line `cis490-ship --version` prints, e.g. `cis490-ship 0.2.0 (commit 1a2b3c4d5e6f)`. */
export function versionLine(): string {
  return formatVersionLine(VERSION, commitSource());
}

/**
 * What the binary was built from. This file is the from-source version: `deno task build` compiles
 * with an import map that replaces it by a generated module carrying the commit (scripts/build.ts).
 */

/** The build's facts; `commit` is null when the build ran outside a git checkout. */
export interface BuildInfo {
  /** Full 40-hex commit, or null. */
  commit: string | null;
  /** The working tree had uncommitted changes to tracked files. */
  modified: boolean;
}

/** Undefined when running from source; set in a compiled binary. */
export const BUILD: BuildInfo | undefined = undefined;

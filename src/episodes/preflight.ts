/**
 * Whether a complete episode may be sent, decided before any byte leaves the host. Pure.
 */
import { isValidCommit, isValidId } from "../protocol/protocol.ts";
import type { MetaReading } from "./meta.ts";

/** The name of an episode's metadata file. */
export const META_FILE = "meta.json";

/** The commit read from `meta.json`, or why there is none. */
export type CommitReading = { commit: string } | { problem: string };

/** Reads `code_version.commit` from the text of `meta.json` (null when the file is missing). */
export function readCommit(metaText: string | null): CommitReading {
  if (metaText === null) return { problem: "meta.json is missing" };
  let meta: unknown;
  try {
    meta = JSON.parse(metaText);
  } catch {
    return { problem: "meta.json is not valid JSON" };
  }
  const codeVersion = typeof meta === "object" && meta !== null
    ? (meta as Record<string, unknown>).code_version
    : undefined;
  const commit = typeof codeVersion === "object" && codeVersion !== null
    ? (codeVersion as Record<string, unknown>).commit
    : undefined;
  if (commit === undefined) return { problem: "meta.json has no code_version.commit" };
  if (!isValidCommit(commit)) {
    return {
      problem: `meta.json code_version.commit ${
        JSON.stringify(commit).slice(0, 60)
      } is not 40 hex digits`,
    };
  }
  return { commit };
}

/** What preflight knows about an episode. */
export interface PreflightInput {
  name: string;
  /** The text of `meta.json`, null when missing. Ignored when `meta` is given. */
  metaText?: string | null;
  /** What {@linkcode import("./meta.ts").readMeta} found; wins over `metaText`. */
  meta?: MetaReading;
  totalBytes: number;
  maxEpisodeBytes: number;
  /** Why the walk could not list the tree faithfully (a name that is not UTF-8), or null. */
  treeProblem?: string | null;
}

/** Preflight's verdict: send it with this commit, or quarantine it for this reason. */
export type Verdict =
  | { send: true; commit: string }
  | { send: false; reason: string; commit: string | null };

/** The commit in a {@linkcode MetaReading}, or why there is none. */
export function readCommitFrom(meta: MetaReading): CommitReading {
  return "text" in meta ? readCommit(meta.text) : { problem: meta.problem };
}

/** Decides whether an episode may be sent. */
export function preflight(input: PreflightInput): Verdict {
  const meta: MetaReading = input.meta ??
    (input.metaText == null
      ? { kind: "missing", problem: "meta.json is missing" }
      : { text: input.metaText });
  const reading = readCommitFrom(meta);
  const commit = "commit" in reading ? reading.commit : null;
  if (!isValidId(input.name)) {
    return {
      send: false,
      commit,
      reason: `episode id ${
        JSON.stringify(input.name)
      } is not valid: it must match [A-Za-z0-9][A-Za-z0-9._-]{0,199}`,
    };
  }
  if (input.treeProblem) return { send: false, commit, reason: input.treeProblem };
  if ("problem" in reading) {
    // Only a missing or unstamped meta.json says the producer does not stamp its commit.
    const unstamped = "text" in meta || meta.kind === "missing";
    return {
      send: false,
      commit: null,
      reason: unstamped
        ? `${reading.problem}: the episode was produced by code that does not stamp its commit`
        : reading.problem,
    };
  }
  if (input.totalBytes > input.maxEpisodeBytes) {
    return {
      send: false,
      commit,
      reason:
        `episode holds ${input.totalBytes} bytes, more than shipper.max_episode_bytes (${input.maxEpisodeBytes})`,
    };
  }
  return { send: true, commit: reading.commit };
}
